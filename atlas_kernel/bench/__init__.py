"""Benchmark harness: resumable runs of the pipeline over suites, graded by hidden tests.

    from atlas_kernel.bench import run_benchmark, run_ablation, write_report
    run = run_benchmark("humaneval", condition="A", limit=10, workers=2)
    abl = run_ablation("humaneval", "A,B,D,E", every=8)
    write_report("atlas_runs/...")          # regenerate a report from stored results

The CLI is `atlas bench` (atlas_kernel.cli.bench_cmd). Names load lazily: importing this package
does not import the pipeline, numpy or matplotlib.

Modules by job: harness (the two entry points), selection (which tasks), rundir (run directory,
run.json, results log, lock), fingerprint (model identity), engine (executing jobs), worker
(inside a worker), runner (solve or sample one task and grade it), executors, power, metrics,
report, choice (multiple-choice suites), progress.
"""

from __future__ import annotations

from atlas_kernel._lazy import lazy_exports

__all__ = ["run_benchmark", "run_ablation", "write_report", "build_report", "select_tasks", "BenchRun", "AblationRun",
           "RunSpec", "read_results", "append_result", "solve_and_grade"]

_EXPORTS = {
    "run_benchmark": "harness", "run_ablation": "harness", "BenchRun": "engine", "AblationRun": "engine",
    "select_tasks": "selection", "write_report": "report", "build_report": "report", "RunSpec": "runner",
    "read_results": "rundir", "append_result": "rundir", "solve_and_grade": "runner",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
