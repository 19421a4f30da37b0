"""Benchmark harness: resumable runs of the pipeline over suites, graded by hidden tests.

    from atlas_kernel.bench import run_benchmark, run_ablation, write_report
    run = run_benchmark("humaneval", condition="A", limit=10, workers=2)
    abl = run_ablation("humaneval", "A,B,D,E", every=8)
    write_report("atlas_runs/...")          # regenerate a report from stored results

The CLI is `atlas bench` (atlas_kernel.cli.bench_cmd). Names load lazily: importing this package
does not import the pipeline, numpy or matplotlib.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_benchmark", "run_ablation", "write_report", "build_report", "select_tasks", "BenchRun", "AblationRun",
           "RunSpec", "read_results", "append_result", "solve_and_grade"]

_WHERE = {
    "run_benchmark": "harness", "run_ablation": "harness", "select_tasks": "harness", "BenchRun": "harness",
    "AblationRun": "harness", "write_report": "report", "build_report": "report", "RunSpec": "runner",
    "read_results": "runner", "append_result": "runner", "solve_and_grade": "runner",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"atlas_kernel.bench.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'atlas_kernel.bench' has no attribute {name!r}")
