"""The `atlas` command line. Every command has a Python API beside it; this file only parses
arguments, calls that API and prints. User errors print one line and exit with code 2."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

from atlas_kernel.errors import AtlasError


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


# -- solve ---------------------------------------------------------------------------------
def cmd_solve(args: argparse.Namespace) -> int:
    from atlas_kernel.problems import load_problem, load_task

    if args.suite:
        if not args.task:
            raise AtlasError("--suite needs --task ID (e.g. --suite humaneval --task HumanEval/0)")
        problem = load_task(args.suite, args.task).problem  # the solver gets the Problem only
    elif args.problem:
        problem = load_problem(args.problem)
    else:
        raise AtlasError("give a problem: a .md/.txt/.json file, example:NAME, or --suite S --task ID")
    from atlas_kernel.cli.solve_cmd import run_solve

    return run_solve(problem, args)


# -- sandbox ------------------------------------------------------------------------------
def cmd_sandbox_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from atlas_kernel.sandbox import Limits, get_sandbox

    try:
        code = Path(args.code_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise AtlasError(f"cannot read {args.code_file} ({exc.strerror}) — give the path of a Python file") from None
    stdin = ""
    if args.stdin:
        try:
            stdin = Path(args.stdin).read_text(encoding="utf-8")
        except OSError as exc:
            raise AtlasError(f"cannot read --stdin file {args.stdin} ({exc.strerror})") from None
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory)
    result = get_sandbox().run(code, stdin=stdin, limits=limits)
    if args.json:
        _print_json(result.to_dict())
    else:
        sys.stdout.write(result.stdout)
        if result.stderr:
            sys.stderr.write(result.stderr)
        print(f"[{result.status}] exit={result.returncode} wall={result.wall_s:.3f}s", file=sys.stderr)
    return 0 if result.status == "ok" else 1


# -- doctor -------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from atlas_kernel.doctor import doctor_report, format_doctor

    report = doctor_report(check_models=not args.brief)
    if args.json:
        _print_json(report)
    else:
        print(format_doctor(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from atlas_kernel.pipeline.conditions import CONDITIONS, DEFAULT_CONDITION, SELECTOR_NAMES, SELECTORS, conditions_help

    p = argparse.ArgumentParser(prog="atlas", description="atlas_kernel: a small local LLM solving programming problems with an inference-time pipeline")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve one problem")
    s.add_argument("problem", nargs="?", help="a .md/.txt statement, a .json problem, example:NAME, or statement text")
    s.add_argument("--suite", help="take the problem from a suite: humaneval, lcb:FILE, jsonl:FILE")
    s.add_argument("--task", help="task id within --suite")
    s.add_argument("--model", default=None, help="qwen-coder-0.5b (default), qwen-coder-1.5b, smollm2, gemma, a .gguf path, or an http(s):// server URL")
    s.add_argument("--condition", type=str.upper, choices=CONDITIONS, default=None,
                   help=f"{conditions_help()} (default {DEFAULT_CONDITION})")
    s.add_argument("--max-tokens", type=int, default=None, help="tokens per code generation")
    s.add_argument("--k", type=int, default=None, help="Phase 1 candidates (plans + diverse samples)")
    s.add_argument("--selector", choices=SELECTOR_NAMES, default=None,
                   help="after public examples: " + "; ".join(f"{k}: {v}" for k, v in SELECTORS.items()))
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.add_argument("--trace", metavar="FILE", help="write the full trace as JSON")
    s.set_defaults(func=cmd_solve)

    sb = sub.add_parser("sandbox", help="run code in the sandbox")
    sbs = sb.add_subparsers(dest="sandbox_command", required=True)
    r = sbs.add_parser("run", help="run one program and print its verdict")
    r.add_argument("code_file")
    r.add_argument("--stdin", help="file fed on standard input")
    r.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds (default 10)")
    r.add_argument("--memory", type=int, default=1024, help="address-space limit in MB (default 1024)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_sandbox_run)

    from atlas_kernel.cli.grade_cmd import add_parser as add_grade_parser

    add_grade_parser(sub)

    d = sub.add_parser("doctor", help="what is installed, which backends and protections are active")
    d.add_argument("--brief", action="store_true", help="skip loading the models")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_doctor)

    from atlas_kernel.cli import extra_commands

    for register in extra_commands():
        register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AtlasError as exc:
        print(f"atlas: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("atlas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
