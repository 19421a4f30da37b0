"""`atlas bench`: benchmark runs and ablations; `atlas bench report DIR` rebuilds a report.

Only parses arguments and prints: the work is `atlas_kernel.bench.run_benchmark` /
`run_ablation` / `write_report`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from atlas_kernel.errors import AtlasError

SUITES = "humaneval | lcb:FILE | jsonl:FILE | mbpp:FILE | gpqa:FILE"


def _override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE (e.g. --set time_budget_s=900), got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value  # a bare word: keep it as a string (e.g. selector=codet)
    return key.strip(), parsed


def _summary_line(label: str, s: dict[str, Any]) -> str:
    if not s.get("n_tasks"):
        return f"{label}: no finished tasks"
    head = (", ".join(f"{k} = {v:.3f}" for k, v in s["pass_at_k"].items()) if s.get("pass_at_k")
            else f"{s['metric']} = {s['pass_at_1']:.3f} ({s['solved']}/{s['n_tasks']})")
    energy = f", {s['energy_j']['per_task']:.0f} J/task" if s.get("energy_j") else ""
    return f"{label}: {head}; {s['tokens']['per_task']:.0f} tokens/task, {s['wall_s']['per_task']:.1f} s/task{energy}"


def cmd_bench(args: argparse.Namespace) -> int:
    if getattr(args, "bench_command", None) == "report":
        return cmd_report(args)
    if not args.suite:
        raise AtlasError(f"give a suite: atlas bench --suite {SUITES} (or: atlas bench report DIR)")
    from atlas_kernel.bench.harness import run_ablation, run_benchmark

    if args.ablation and args.condition:
        raise AtlasError("--ablation runs several conditions; drop --condition")
    if args.samples is not None and (args.ablation or args.condition):
        raise AtlasError("--samples is plain sampling without pipeline conditions; drop --condition/--ablation")
    if args.samples is not None and args.set:
        raise AtlasError("--samples samples the plain single-shot prompt; --set pipeline settings do not apply — drop --set")
    if args.temperature is not None and args.samples is None:
        raise AtlasError("--temperature goes with --samples N (plain sampling); pipeline conditions set their own")
    common = dict(model=args.model, out=args.out, limit=args.limit, tasks=args.tasks, every=args.every, since=args.since,
                  until=args.until, difficulty=args.difficulty, workers=args.workers, threads=args.threads, executor=args.executor,
                  resume=args.resume, seed=args.seed, power_watts=args.power_watts, overrides=dict(args.set or []),
                  progress="none" if args.quiet else "auto", online_lens=args.online_lens, lens=args.lens)
    if args.ablation:
        abl = run_ablation(args.suite, args.ablation, **common)
        for cond, run in abl.runs.items():
            print(_summary_line(cond, run.summary))
        print(f"\nreport: {abl.out / 'report.md'} (plots in {abl.out / 'plots'})")
        errors = abl.errors
    else:
        run = run_benchmark(args.suite, condition=args.condition or "A", samples=args.samples,
                            temperature=args.temperature if args.temperature is not None else 0.8, **common)
        print(_summary_line(run.condition or f"{args.samples} samples", run.summary))
        print(f"results: {run.out / 'results.jsonl'}; report: {run.out / 'report.md'}")
        errors = run.errors
    if errors:
        print(f"{len(errors)} task run(s) failed and were not recorded (rerun with --resume to retry): "
              + ", ".join(f"{e['task_id']} ({e['error'][:80]})" for e in errors[:5]), file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from atlas_kernel.bench.report import write_report

    rep = write_report(args.dir, plots=not args.no_plots)
    if args.json:
        print(json.dumps({k: v for k, v in rep.items() if k != "markdown"}, indent=2, default=str))
    else:
        print(rep["markdown"], end="")
    return 0


def register(subparsers: Any) -> None:
    from atlas_kernel.pipeline.conditions import CONDITIONS, conditions_help

    b = subparsers.add_parser(
        "bench", help="benchmark a suite under a condition, an ablation, or plain sampling (pass@k)",
        description="Run a suite through the pipeline, grade each final answer with hidden tests, log one line per task "
                    "(crash-safe, resumable), and report. `atlas bench report DIR` rebuilds the report of a stored run.")
    b.add_argument("--suite", help=SUITES)
    what = b.add_argument_group("what to run")
    what.add_argument("--condition", type=str.upper, choices=CONDITIONS, default=None,
                      help=f"{conditions_help()} (default A)")
    what.add_argument("--ablation", metavar="A,B,...", help=f"several conditions on the same tasks and seed, e.g. {','.join(CONDITIONS)}")
    what.add_argument("--samples", type=int, default=None, metavar="N",
                      help="plain sampling: N samples per task, each graded; reports unbiased pass@k for k <= N")
    what.add_argument("--temperature", type=float, default=None, help="sampling temperature for --samples (default 0.8)")
    what.add_argument("--model", default=None, help="qwen-coder-0.5b (default), qwen-coder-1.5b, smollm2, gemma, a .gguf path, or an http(s):// server URL")
    what.add_argument("--seed", type=int, default=0, help="the seed every condition uses (default 0)")
    what.add_argument("--online-lens", action="store_true",
                      help="recalibrate the Lens after each task from its public-example outcomes (conditions C, E)")
    what.add_argument("--lens", default=None, metavar="FILE",
                      help="conditions C, E: rank with this Lens (.npz) or cross-fitted set (crossfit.json from "
                           "benchmark/bench_lens.py --write-crossfit), not the model's default Lens")
    what.add_argument("--set", action="append", type=_override, metavar="KEY=VALUE",
                      help="pipeline setting, e.g. --set time_budget_s=900 --set k=4 (repeatable)")
    sel = b.add_argument_group("which tasks (filters, then every N-th, then the first N)")
    sel.add_argument("--limit", type=int, default=None, metavar="N", help="the first N tasks")
    sel.add_argument("--tasks", default=None, metavar="ID,ID", help="these task ids")
    sel.add_argument("--every", type=int, default=None, metavar="N", help="every N-th task (a fixed subset)")
    sel.add_argument("--since", default=None, metavar="DATE", help="LiveCodeBench: contest date on or after (YYYY-MM-DD)")
    sel.add_argument("--until", default=None, metavar="DATE", help="LiveCodeBench: contest date on or before")
    sel.add_argument("--difficulty", choices=["easy", "medium", "hard"], default=None)
    how = b.add_argument_group("how to run")
    how.add_argument("--out", default=None, metavar="DIR", help="run directory (default atlas_runs/<suite>-<condition>-<model>)")
    how.add_argument("--workers", type=int, default=1, help="worker processes / Ray actors, each with its own model (default 1)")
    how.add_argument("--threads", type=int, default=None,
                     help="model threads per worker (default: cores / workers; 1 is best on a busy machine)")
    how.add_argument("--executor", choices=["local", "ray"], default="local", help="local worker processes (default) or Ray")
    how.add_argument("--resume", action="store_true", help="continue the run in --out: finished tasks are skipped, never repeated")
    how.add_argument("--power-watts", type=float, default=None, metavar="W",
                     help="power for the energy estimate (default: nvidia-smi reading on GPU machines, else a stated 65 W CPU figure)")
    how.add_argument("--quiet", action="store_true", help="no progress output")
    b.set_defaults(func=cmd_bench)

    sub = b.add_subparsers(dest="bench_command", metavar="report")
    r = sub.add_parser("report", help="rebuild report.md/.json and plots of a stored run (no model)")
    r.add_argument("dir", help="the run (or ablation) directory")
    r.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")
    r.add_argument("--no-plots", action="store_true")
    r.set_defaults(func=cmd_bench)
