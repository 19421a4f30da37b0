"""How many tokens does each kind of generation take, and how often does its budget cut it?
Reads the traces of a pipeline run (any `atlas bench` run directory with traces/).

    .venv/bin/atlas bench --suite humaneval --condition E --tasks ID,ID,... --set early_stop=false \
        --set plan_tokens=480 --out benchmark/results/pipeline/budget_study      # generous budgets, every phase
    .venv/bin/python benchmark/bench_budgets.py benchmark/results/pipeline/budget_study

Per (phase, kind of call): calls, completion tokens (median, 90th percentile, max), the
budget it ran under, and the share that stopped at it (finish_reason "length"): a budget
that cuts many calls is too small for the model; one far above the 90th percentile only
bounds runaway generations. Writes benchmark/results/budgets_<run name>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path
from typing import Any


def _kind(purpose: str) -> str:
    # "repair round 1 (logic)" -> "repair round", "teacher (budget light) ..." -> "teacher"
    return re.sub(r"\s*(\(.*|\d+.*)$", "", purpose).strip() or purpose


def _pct(xs: list[int], q: float) -> int:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def study(run: Path) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    traces = sorted((run / "traces").glob("*.json"))
    for f in traces:
        for call in json.loads(f.read_text()).get("llm_calls", []):
            groups.setdefault((call["phase"], _kind(call["purpose"])), []).append(call)
    rows = []
    for (phase, kind), calls in sorted(groups.items()):
        toks = [int(c.get("completion_tokens") or 0) for c in calls]
        caps = sorted({int(c["sampling"]["max_tokens"]) for c in calls if c.get("sampling", {}).get("max_tokens")})
        cut = sum(c.get("finish_reason") == "length" for c in calls)
        rows.append({"phase": phase, "kind": kind, "calls": len(calls), "median": int(statistics.median(toks)),
                     "p90": _pct(toks, 0.9), "max": max(toks), "budgets": caps, "cut": cut,
                     "cut_share": round(cut / len(calls), 3)})
    return {"run": str(run), "tasks": len(traces), "calls": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    args = ap.parse_args()
    result = study(args.run)
    result["command"] = f"benchmark/bench_budgets.py {args.run}"
    out = Path(__file__).parent / "results" / f"budgets_{args.run.name}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{result['tasks']} traces")
    print(f"{'phase':<12} {'kind':<28} {'calls':>5} {'median':>6} {'p90':>5} {'max':>5} {'budget':>10} {'cut':>6}")
    for r in result["calls"]:
        print(f"{r['phase']:<12} {r['kind'][:28]:<28} {r['calls']:>5} {r['median']:>6} {r['p90']:>5} {r['max']:>5} "
              f"{','.join(map(str, r['budgets'])):>10} {r['cut_share']:>6.0%}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
