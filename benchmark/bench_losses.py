"""Where does a pipeline run lose the tasks it fails? For every failed task of a run directory,
grade every candidate the pipeline generated (from the trace) with the hidden tests:

  selection loss   some candidate passes the hidden tests, but another one was chosen
  generation loss  no candidate passes: no selector could have saved the task

and, for every solved task that the single shot (--baseline, e.g. arm A) failed, which phase
produced the winning candidate (the rescues per phase). Grading happens only here, after the run:
the pipeline never saw these verdicts.

    .venv/bin/python benchmark/bench_losses.py benchmark/results/pipeline/qwen05_all/E \
        --baseline benchmark/results/pipeline/qwen05_all/A

Writes benchmark/results/losses_<run parent>_<run>.json.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from atlas_kernel.bench import read_results
from atlas_kernel.grading import grader_for
from atlas_kernel.problems import load_suite


def analyse(run: Path, baseline: Path | None) -> dict[str, Any]:
    meta = json.loads((run / "run.json").read_text())
    tasks = {t.id: t for t in load_suite(meta["suite"])}
    rows = read_results(run / "results.jsonl")
    base = read_results(baseline / "results.jsonl") if baseline else {}
    per_task, rescues = [], Counter()
    for tid, row in rows.items():
        if row["passed"]:
            if base.get(tid) and not base[tid]["passed"]:
                rescues[row.get("solved_by") or "?"] += 1
            continue
        trace = json.loads((run / row["trace"]).read_text()) if row.get("trace") else {"candidates": []}
        grader = grader_for(tasks[tid])
        seen: dict[str, bool] = {}
        passing = []
        for c in trace["candidates"]:
            key = " ".join(c["code"].split())
            if key not in seen:
                seen[key] = grader.grade(c["code"]).passed
            if seen[key]:
                passing.append({"id": c["id"], "origin": c["origin"], "public_passed": sum(
                    v["verdict"] == "passed" for v in c.get("public", [])), "public_total": len(c.get("public", []))})
        per_task.append({"task_id": tid, "candidates": len(trace["candidates"]), "distinct": len(seen),
                         "kind": "selection" if passing else "generation", "chosen": row.get("chosen"),
                         "passing_candidates": passing, "stopped_early": row.get("stopped_early")})
    kinds = Counter(t["kind"] for t in per_task)
    return {"run": str(run), "baseline": str(baseline) if baseline else None, "tasks": len(rows),
            "solved": sum(r["passed"] for r in rows.values()), "failed": len(per_task),
            "selection_losses": kinds["selection"], "generation_losses": kinds["generation"],
            "selection_losses_after_early_stop": sum(1 for t in per_task if t["kind"] == "selection" and t["stopped_early"]),
            "rescues_by_phase": dict(rescues), "per_task": per_task}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--baseline", type=Path, help="the single-shot arm of the same tasks (for rescues per phase)")
    args = ap.parse_args()
    result = analyse(args.run, args.baseline)
    result["command"] = f"benchmark/bench_losses.py {args.run}" + (f" --baseline {args.baseline}" if args.baseline else "")
    out = Path(__file__).parent / "results" / f"losses_{args.run.parent.name}_{args.run.name}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{result['solved']}/{result['tasks']} solved; of {result['failed']} failed: {result['selection_losses']} "
          f"selection losses (a candidate passed the hidden tests), {result['generation_losses']} generation losses; "
          f"rescues by phase {result['rescues_by_phase']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
