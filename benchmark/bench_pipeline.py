"""Pipeline conditions on HumanEval with the embedded model: pass@1 of the final answer, tokens and
wall time per task, paired differences against single shot (A) with bootstrap confidence
intervals, probe early stops and repair rescues.

    .venv/bin/python benchmark/bench_pipeline.py [--conditions A,B,D,E] [--every 4] [--model qwen-coder-0.5b]
                                                 [--time-budget 300]

This is `atlas bench --suite humaneval --every 4 --ablation ... --resume` (the product's own
harness: crash-safe log per condition, resumable, same seed for every condition) plus a summary
of the figures the pipeline issue asks for. The subset is fixed before looking at results: every
N-th task of HumanEval (every 4th = 41 tasks). Conditions can be added to the same directory
later; finished ones are reused. Output: benchmark/results/pipeline/<model>_every<N>/ (report.md,
report.json, plots/) and the summary benchmark/results/pipeline_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from atlas_kernel.bench import run_ablation

RESULTS = Path(__file__).parent / "results"


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    return {
        "tasks": n, "solved": sum(r["passed"] for r in rows), "pass_at_1": sum(r["passed"] for r in rows) / n,
        "tokens_per_task": sum(r["tokens"] for r in rows) / n, "wall_s_per_task": sum(r["wall_s"] for r in rows) / n,
        "max_wall_s": max(r["wall_s"] for r in rows), "sandbox_s_per_task": sum(r["sandbox_s"] for r in rows) / n,
        "probe_stopped_early": sum(1 for r in rows if r["stopped_early"] and "probe" in r["stopped_early"]),
        "probe_stopped_early_and_passed": sum(1 for r in rows if r["stopped_early"] and "probe" in r["stopped_early"] and r["passed"]),
        "solved_by": {o: sum(1 for r in rows if r["passed"] and r["solved_by"] == o) for o in ("probe", "plan", "div", "repair")},
        "phase_s_per_task": {p: sum(r["phase_s"].get(p, 0) for r in rows) / n for p in sorted({p for r in rows for p in r["phase_s"]})},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conditions", default="A,B,D,E")
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--time-budget", type=float, default=300.0, help="seconds per task (the pipeline default)")
    args = ap.parse_args()
    out = RESULTS / "pipeline" / f"{args.model}_every{args.every}"
    conds = [c.strip().upper() for c in args.conditions.split(",")]
    if "A" not in conds:
        conds = ["A"] + conds  # every comparison is paired against single shot
    abl = run_ablation("humaneval", conds, model=args.model, out=out, every=args.every, resume=True,
                       overrides={"time_budget_s": args.time_budget}, progress="plain")
    rep = abl.report
    per = {}
    for c in rep["conditions"]:
        rows = [json.loads(x) for x in (out / c / "results.jsonl").read_text().splitlines() if x.strip().endswith("}")]
        per[c] = {r["task_id"]: r for r in rows}
    common = [t for t in json.loads((out / "run.json").read_text())["tasks"] if all(t in per[c] for c in per)]
    summary = {"suite": "humaneval", "every": args.every, "n_tasks": len(common), "model": args.model,
               "time_budget_s": args.time_budget, "run_dir": str(out.relative_to(RESULTS.parent.parent)),
               "conditions": {c: summarize([per[c][t] for t in common]) for c in per},
               "paired_vs_A": rep.get("paired_vs_A"), "rescues": rep.get("rescues")}
    path = RESULTS / f"pipeline_{args.model}.json"
    path.write_text(json.dumps(summary, indent=2))
    for c, s in summary["conditions"].items():
        d = (rep.get("paired_vs_A") or {}).get(c)
        extra = f", vs A {d['diff']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]" if d else ""
        print(f"{c}: {s['solved']}/{s['tasks']} pass@1, {s['tokens_per_task']:.0f} tokens/task, "
              f"{s['wall_s_per_task']:.0f} s/task{extra}")
    print(f"wrote {path} and {out}/report.md")


if __name__ == "__main__":
    main()
