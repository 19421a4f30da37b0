"""`run_benchmark` and `run_ablation`: the public entry points of the benchmark harness.

The work is split by job: `selection` (which tasks), `rundir` (the run directory: layout,
run.json, results log, lock, resume), `fingerprint` (what identifies the model), `engine`
(sending jobs to an executor and collecting rows), `worker` (what runs inside a worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from atlas_kernel.bench.engine import AblationRun, BenchRun, BenchSpec, ExecOptions, execute
from atlas_kernel.bench.rundir import default_out
from atlas_kernel.bench.selection import Selection
from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.config import CONDITIONS

__all__ = ["run_benchmark", "run_ablation", "BenchRun", "AblationRun"]


def run_benchmark(suite: str, *, condition: str | None = "A", model: Any = None, out: str | Path | None = None,
                  limit: int | None = None, tasks: Sequence[str] | str | None = None, every: int | None = None,
                  since: str | None = None, until: str | None = None, difficulty: str | None = None,
                  workers: int = 1, threads: int | None = None, executor: str = "local", resume: bool = False,
                  samples: int | None = None,
                  temperature: float = 0.8, seed: int = 0, power_watts: float | None = None,
                  overrides: dict[str, Any] | None = None, progress: str = "auto", keep_traces: bool = True,
                  report: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None,
                  online_lens: bool = False, lens: str | Path | None = None) -> BenchRun:
    """Run one condition (or, with `samples`, plain sampling) over a suite; see `atlas bench --help`.

    `model`: a spec (bundled name, .gguf path, server URL) loaded in every worker, or a Model
    object (then the run happens in this process, one task at a time). `threads`: llama.cpp
    threads per worker (default: the cores divided by `workers`). Returns the rows in task
    order and their summary; the run directory holds the log, traces and report.
    `online_lens`: recalibrate the Lens after each task from its candidates' public-example
    outcomes (conditions C and E; each worker keeps its own copy, saved under online_lens/).
    `lens`: a Lens file (.npz) or a cross-fitted set (crossfit.json) for conditions C and E instead
    of the model's default Lens.
    """
    if samples is not None:
        condition = None  # plain sampling is condition-free
    elif (condition or "").upper() not in CONDITIONS:
        raise AtlasError(f"unknown condition {condition!r} — use A (single shot), B, C, D or E (all phases)")
    else:
        condition = condition.upper()
    spec = BenchSpec(suite, (condition,), model, Selection.of(limit, tasks, every, since, until, difficulty), seed,
                     samples, temperature, online_lens=online_lens, lens=None if lens is None else str(lens))
    how = ExecOptions(workers, threads, executor, power_watts, progress, keep_traces, on_result)
    label = spec.label(condition)
    out_dir = Path(out) if out is not None else default_out(suite, label, model)
    runs, errors, rep = execute(spec, how, out_dir, overrides=overrides, resume=resume, report=report)
    run = runs[label]
    run.errors = errors
    run.report = rep
    return run


def run_ablation(suite: str, conditions: Sequence[str] | str = CONDITIONS, *, model: Any = None,
                 out: str | Path | None = None, limit: int | None = None, tasks: Sequence[str] | str | None = None,
                 every: int | None = None, since: str | None = None, until: str | None = None,
                 difficulty: str | None = None, workers: int = 1, threads: int | None = None, executor: str = "local",
                 resume: bool = False, seed: int = 0, power_watts: float | None = None, overrides: dict[str, Any] | None = None,
                 progress: str = "auto", keep_traces: bool = True, report: bool = True,
                 on_result: Callable[[dict[str, Any]], None] | None = None, online_lens: bool = False,
                 lens: str | Path | None = None) -> AblationRun:
    """Several conditions on the same tasks with the same seed, then the ablation report
    (pass rates, paired differences vs A, phase waterfall, rescues, cost per solved task)."""
    if isinstance(conditions, str):
        conditions = [c.strip() for c in conditions.split(",") if c.strip()]
    conds = [c.upper() for c in conditions]
    bad = [c for c in conds if c not in CONDITIONS]
    if bad or not conds:
        raise AtlasError(f"unknown condition(s) {', '.join(bad) or '(none)'} — --ablation takes a list of A, B, C, D, E")
    if len(set(conds)) != len(conds):
        raise AtlasError("--ablation lists a condition twice")
    if len(conds) == 1:
        raise AtlasError("--ablation compares several conditions: list at least two (or use --condition)")
    spec = BenchSpec(suite, tuple(conds), model, Selection.of(limit, tasks, every, since, until, difficulty), seed,
                     None, 0.0, online_lens=online_lens, lens=None if lens is None else str(lens))
    how = ExecOptions(workers, threads, executor, power_watts, progress, keep_traces, on_result)
    out_dir = Path(out) if out is not None else default_out(suite, "ablation-" + "".join(conds), model)
    runs, errors, rep = execute(spec, how, out_dir, overrides=overrides, resume=resume, report=report)
    return AblationRun(out_dir, runs, rep or {}, errors)
