"""Pipeline conditions on HumanEval with the embedded model: pass@1 of the final answer, tokens and
wall time per task, paired differences against single shot (A) with bootstrap confidence intervals.

    .venv/bin/python benchmark/bench_pipeline.py [--conditions A,B,D,E] [--every 4] [--model smollm2]

The subset is fixed before looking at results: every N-th task of HumanEval (every 4th = 41 tasks).
Runs are resumable (rerun the same command after a crash); each condition writes
benchmark/results/pipeline/<model>_<cond>/results.jsonl, the summary goes to
benchmark/results/pipeline_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas_kernel.bench.runner import RunSpec, run_local  # noqa: E402
from atlas_kernel.problems import load_suite  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def bootstrap_diff(a: list[int], b: list[int], n: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    rng = random.Random(seed)
    d = [y - x for x, y in zip(a, b)]
    mean = sum(d) / len(d)
    boots = sorted(sum(d[rng.randrange(len(d))] for _ in d) / len(d) for _ in range(n))
    return mean, boots[int(0.025 * n)], boots[int(0.975 * n) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conditions", default="A,B,D,E")
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--time-budget", type=float, default=900.0, help="per task; large so CPU load does not change results")
    args = ap.parse_args()
    tasks = load_suite("humaneval")[:: args.every]
    summary = {"suite": "humaneval", "every": args.every, "n_tasks": len(tasks), "model": args.model, "conditions": {}}
    per: dict[str, list[dict]] = {}
    for cond in args.conditions.split(","):
        spec = RunSpec("humaneval", cond, args.model, 0, (("time_budget_s", args.time_budget),))
        out = RESULTS / "pipeline" / f"{args.model}_{cond}"

        def show(row, cond=cond):
            print(f"[{cond}] {row['task_id']}: {row['grade']} (public {row['public_passed']}/{row['public_total']}, "
                  f"by {row['solved_by']}, {row['tokens']} tokens, {row['wall_s']:.0f}s)", flush=True)

        rows = run_local(tasks, spec, out, on_result=show)
        per[cond] = rows
        n = len(rows)
        summary["conditions"][cond] = {
            "solved": sum(r["passed"] for r in rows), "pass_at_1": sum(r["passed"] for r in rows) / n,
            "tokens_per_task": sum(r["tokens"] for r in rows) / n, "wall_s_per_task": sum(r["wall_s"] for r in rows) / n,
            "sandbox_s_per_task": sum(r["sandbox_s"] for r in rows) / n,
            "probe_stopped_early": sum(1 for r in rows if r["stopped_early"] and "probe" in r["stopped_early"]),
            "solved_by": {o: sum(1 for r in rows if r["passed"] and r["solved_by"] == o) for o in ("probe", "plan", "div", "repair")},
            "phase_s_per_task": {p: sum(r["phase_s"].get(p, 0) for r in rows) / n for p in sorted({p for r in rows for p in r["phase_s"]})},
        }
        print(f"== {cond}: {summary['conditions'][cond]['solved']}/{n}", flush=True)
    if "A" in per:
        base = {r["task_id"]: int(r["passed"]) for r in per["A"]}
        for cond, rows in per.items():
            if cond == "A":
                continue
            ids = [r["task_id"] for r in rows]
            a = [base[i] for i in ids]
            b = [int(r["passed"]) for r in rows]
            mean, lo, hi = bootstrap_diff(a, b)
            summary["conditions"][cond]["vs_A"] = {"diff_pass_at_1": mean, "ci95": [lo, hi],
                                                   "gained": sum(1 for x, y in zip(a, b) if y > x),
                                                   "lost": sum(1 for x, y in zip(a, b) if x > y)}
        summary["repair_rescued"] = {c: sum(1 for r in rows if r["passed"] and r["solved_by"] == "repair") for c, rows in per.items()}
    out = RESULTS / f"pipeline_{args.model}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
