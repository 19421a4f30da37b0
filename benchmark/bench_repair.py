"""What the repair phase of a pipeline run produced, read from its traces: for every repair answer,
whether it was a new program, its parent again, a copy of another candidate, or no program at
all; whether it passed more public examples than its parent, or all of them; what it cost in
tokens; and whether a repaired candidate was chosen and passed the hidden tests (the row's verdict,
graded after the run). Works on runs of every version of the phase: older traces kept copies and
stubs as candidates, newer ones record them as dropped repair events.

    .venv/bin/python benchmark/bench_repair.py benchmark/results/pipeline/qwen05_all/D [--out FILE.json]

Reads only what the run wrote (no model, no sandbox). Writes benchmark/results/repair_<parent>_<run>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmark"))

from atlas_kernel.bench import read_results  # noqa: E402
from atlas_kernel.pipeline.programs import holds_no_program, program_key  # noqa: E402
from provenance import provenance  # noqa: E402

OUTCOMES = ("new program", "parent again", "copy of another candidate", "no program")


def _public(c: dict[str, Any]) -> tuple[int, int]:
    return sum(v["verdict"] == "passed" for v in c.get("public", [])), len(c.get("public", []))


def task_repairs(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per repair answer of a solve, in the order they were made."""
    problem = trace.get("problem") or {}
    entry = problem.get("entry_point") if problem.get("kind", "functional") == "functional" else None
    cands = {c["id"]: c for c in trace.get("candidates", [])}
    calls = [c for c in trace.get("llm_calls", []) if c.get("phase") == "repair"]
    tokens = {c["purpose"]: c.get("completion_tokens", 0) for c in calls}
    seen: dict[str, str] = {}  # program key -> first candidate id (in the order candidates were made)
    out = []
    for c in trace.get("candidates", []):
        seen.setdefault(program_key(c["code"]), c["id"])
    for ev in trace.get("events", []):
        if ev.get("kind") != "repair":
            continue
        d = ev.get("data", ev)
        purpose = f"repair round {d['round']} ({d['perspective']})"
        parent = cands.get(d["parent"])
        rec = {"round": d["round"], "perspective": d["perspective"], "parent": d["parent"],
               "candidate": d.get("candidate"), "tokens": tokens.get(purpose, 0)}
        if d.get("candidate") is None:  # dropped by the phase itself (newer traces)
            why = d.get("dropped", "")
            other = cands.get(d.get("same_as") or why.rsplit(" ", 1)[-1])
            rec["outcome"] = ("no program" if why.startswith("no program") else
                              "parent again" if why.endswith("its parent") or (
                                  other is not None and parent is not None
                                  and program_key(other["code"]) == program_key(parent["code"]))
                              else "copy of another candidate")
            out.append(rec)
            continue
        child = cands.get(d["candidate"])
        if child is None:  # a trace saved before its candidates were
            continue
        key = program_key(child["code"])
        if holds_no_program(child["code"], entry):
            rec["outcome"] = "no program"
        elif parent is not None and key == program_key(parent["code"]):
            rec["outcome"] = "parent again"
        elif seen.get(key) != child["id"]:
            rec["outcome"] = "copy of another candidate"
        else:
            rec["outcome"] = "new program"
        passed, total = _public(child)
        p_passed = _public(parent)[0] if parent else 0
        rec.update(public_passed=passed, public_total=total, better_than_parent=passed > p_passed,
                   passes_public=bool(total) and passed == total)
        out.append(rec)
    return out


def analyse(run: Path) -> dict[str, Any]:
    rows = read_results(run / "results.jsonl")
    per_task, outcomes, tokens_by = [], Counter(), Counter()
    for tid, row in rows.items():
        if not row.get("trace") or not (run / row["trace"]).exists():
            continue
        trace = json.loads((run / row["trace"]).read_text())
        reps = task_repairs(trace)
        if not reps:
            continue
        for r in reps:
            outcomes[r["outcome"]] += 1
            tokens_by[r["outcome"]] += r["tokens"]
        per_task.append({"task_id": tid, "passed": bool(row["passed"]), "chosen": row.get("chosen"),
                         "solved_by": row.get("solved_by"), "repair_tokens": (row.get("phase_tokens") or {}).get("repair", 0),
                         "tokens": row.get("tokens", 0), "answers": len(reps),
                         "outcomes": dict(Counter(r["outcome"] for r in reps)),
                         "better_than_parent": sum(bool(r.get("better_than_parent")) for r in reps),
                         "passes_public": sum(bool(r.get("passes_public")) for r in reps)})
    n = sum(outcomes.values())
    return {
        "run": str(run.relative_to(ROOT) if run.is_relative_to(ROOT) else run), "tasks": len(rows),
        "tasks_with_repair": len(per_task),
        "repair_answers": n, "outcomes": {k: outcomes[k] for k in OUTCOMES},
        "tokens_by_outcome": {k: tokens_by[k] for k in OUTCOMES},
        "repair_tokens": sum(t["repair_tokens"] for t in per_task),
        "run_tokens": sum(r.get("tokens", 0) for r in rows.values()),
        "answers_better_than_parent": sum(t["better_than_parent"] for t in per_task),
        "answers_passing_public": sum(t["passes_public"] for t in per_task),
        "repair_chosen": sum(1 for t in per_task if t["solved_by"] == "repair"),
        "repair_chosen_and_passed": sum(1 for t in per_task if t["solved_by"] == "repair" and t["passed"]),
        "tasks_with_repair_passed": sum(t["passed"] for t in per_task),
        "per_task": per_task,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a condition's run directory (results.jsonl + traces/)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    run = args.run.resolve()
    if not (run / "results.jsonl").exists():
        sys.exit(f"bench_repair: {args.run} has no results.jsonl: give one condition's run directory (e.g. .../qwen05_all/D)")
    res = {**provenance(), **analyse(run)}
    out = args.out or ROOT / "benchmark" / "results" / f"repair_{run.parent.name}_{run.name}.json"
    out.write_text(json.dumps(res, indent=1) + "\n")
    o = res["outcomes"]
    print(f"{res['tasks_with_repair']} of {res['tasks']} tasks ran repair: {res['repair_answers']} answers — "
          + ", ".join(f"{k} {o[k]}" for k in OUTCOMES))
    print(f"repair tokens {res['repair_tokens']:,} of {res['run_tokens']:,} in the run; answers better than their parent "
          f"{res['answers_better_than_parent']}, passing every public example {res['answers_passing_public']}; "
          f"repaired candidate chosen on {res['repair_chosen']} tasks, {res['repair_chosen_and_passed']} of them passed "
          f"the hidden tests")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
