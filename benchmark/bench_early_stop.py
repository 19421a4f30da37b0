"""When may the probe end a solve? Measured on a condition-A run (the probe alone, graded).

    .venv/bin/python benchmark/bench_early_stop.py benchmark/results/pipeline/qwen05_all/A
                                                   [--full-tokens 2311]

For every task the A run recorded the probe's program, how many public examples it passed out
of how many the statement gave, its mean token log-probability (trace) and the hidden verdict.
A stopping rule is judged by what it costs and saves against never stopping:
  stops         tasks it would end after the probe
  wrong_stops   of those, tasks whose probe fails the hidden tests: the full pipeline might have
                solved them, so each is a task the rule can lose (an upper bound)
  tokens_saved  stops x the full pipeline's mean generated tokens per task (--full-tokens; the
                default is the figure measured on every fourth task with this model)
Confirmation rules (--second FILE: a second greedy program per task, e.g. the evalplus-style
prompt's rows of bench_baseline_prompt.py, which is DivSampling's greedy row): the probe passes
every public example AND the second program passes them too [AND both give the same output on
inputs mutated from the public ones, no model call]. Each costs the second program's tokens on
every task where the probe passed.
Writes benchmark/results/early_stop_<run name>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

Row = dict[str, Any]


def load(run: Path) -> list[Row]:
    rows = []
    for line in (run / "results.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        trace = json.loads((run / r["trace"]).read_text())
        probe = next(c for c in trace["candidates"] if c["id"] == "probe")
        rows.append({"task_id": r["task_id"], "hidden": bool(r["passed"]), "code": r["code"], "public_passed": r["public_passed"],
                     "public_total": r["public_total"], "logprob": probe.get("mean_logprob"), "tokens": r["tokens"]})
    return rows


def rules() -> dict[str, Callable[[Row], bool]]:
    def all_public(r: Row, at_least: int = 1) -> bool:
        return r["public_total"] >= at_least and r["public_passed"] == r["public_total"]

    out: dict[str, Callable[[Row], bool]] = {"never": lambda r: False}
    for n in (1, 2, 3, 4):
        out[f"all public pass, >= {n} examples"] = lambda r, n=n: all_public(r, n)
    for lp in (-0.35, -0.2, -0.1, -0.05):
        for n in (1, 2, 3):
            out[f"all public pass, >= {n} examples, mean log-prob >= {lp}"] = (
                lambda r, n=n, lp=lp: all_public(r, n) and r["logprob"] is not None and r["logprob"] >= lp)
    return out


def add_second(rows: list[Row], second: Path, n_mutations: int) -> None:
    """Per task where the probe passed its examples: does the second program pass them, and does
    it agree with the probe on mutated inputs?"""
    from atlas_kernel.pipeline.checks import run_tests
    from atlas_kernel.pipeline.extract import strip_test_code
    from atlas_kernel.pipeline.outputs import collect_outputs
    from atlas_kernel.pipeline.phases.self_test_mutations import mutated_inputs
    from atlas_kernel.problems.humaneval import load_humaneval

    problems = {t.id: t.problem for t in load_humaneval()}
    others = {json.loads(x)["task_id"]: json.loads(x) for x in second.read_text().splitlines() if x.strip()}
    for r in rows:
        r["second_tokens"] = others[r["task_id"]]["completion_tokens"]
        if not (r["public_total"] and r["public_passed"] == r["public_total"]):
            continue
        problem = problems[r["task_id"]]
        code2 = strip_test_code(others[r["task_id"]]["code"], problem.entry_point or "")
        r["second_public"] = all(v.passed for v in run_tests(problem, code2, problem.public_tests))
        inputs = mutated_inputs(problem, n_mutations, seed=0)
        outs = collect_outputs(problem, [r["code"], code2], inputs)
        r["agree"] = all(a == b for a, b in zip(*outs))


def judge(rows: list[Row], full_tokens: float) -> list[dict[str, Any]]:
    out = []
    named = rules()
    if any("second_tokens" in r for r in rows):
        passed = lambda r: r["public_total"] >= 1 and r["public_passed"] == r["public_total"]  # noqa: E731
        named["all public pass, and the second program passes them too"] = lambda r: passed(r) and r["second_public"]
        named["all public pass, the second passes them, both agree on mutated inputs"] = (
            lambda r: passed(r) and r["second_public"] and r["agree"])
    for name, rule in named.items():
        stopped = [r for r in rows if rule(r)]
        wrong = [r["task_id"] for r in stopped if not r["hidden"]]
        # a confirmation costs the second program on every task whose probe passed its examples
        cost = sum(r.get("second_tokens", 0) for r in rows if "second" in name and r["public_total"]
                   and r["public_passed"] == r["public_total"])
        saved = len(stopped) * full_tokens - cost
        out.append({"rule": name, "stops": len(stopped), "wrong_stops": len(wrong), "wrong_tasks": wrong,
                    "stop_precision": round(1 - len(wrong) / len(stopped), 4) if stopped else None,
                    "tokens_saved": round(saved), "tokens_saved_share": round(saved / (len(rows) * full_tokens), 4)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path, help="a condition-A run directory (results.jsonl + traces/)")
    ap.add_argument("--full-tokens", type=float, default=2311.0,
                    help="the full pipeline's mean generated tokens per task (default: every fourth HumanEval task, "
                         "Qwen2.5-Coder-0.5B, condition E, measured before this study)")
    ap.add_argument("--second", type=Path, help="JSONL of a second greedy program per task (task_id, code, completion_tokens)")
    ap.add_argument("--mutations", type=int, default=8, help="mutated inputs the two programs must agree on")
    args = ap.parse_args()
    rows = load(args.run)
    if args.second:
        add_second(rows, args.second, args.mutations)
    meta = json.loads((args.run / "run.json").read_text())
    result = {"run": str(args.run), "tasks": len(rows), "model": meta.get("model_id") or meta.get("model"),
              "probe_hidden_pass": sum(r["hidden"] for r in rows),
              "public_examples": {n: sum(r["public_total"] == n for r in rows) for n in sorted({r["public_total"] for r in rows})},
              "command": f"benchmark/bench_early_stop.py {args.run} --full-tokens {args.full_tokens:g}"
                         + (f" --second {args.second} --mutations {args.mutations}" if args.second else ""),
              "rules": judge(rows, args.full_tokens)}
    out = Path(__file__).parent / "results" / f"early_stop_{args.run.parent.name}_{args.run.name}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"{len(rows)} tasks; probe passes hidden on {result['probe_hidden_pass']}; public examples per task "
          f"{result['public_examples']}")
    for r in result["rules"]:
        print(f"{r['rule']:<70} stops {r['stops']:>3}  wrong {r['wrong_stops']:>2}  saves {r['tokens_saved_share']:.0%}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
