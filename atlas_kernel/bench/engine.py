"""Executing a benchmark: what one call asks for (`BenchSpec`, `ExecOptions`), one run directory
per condition (`Arm`), jobs sent to an executor with a bounded window, each finished row
appended to its log the moment it is back, then the summaries and the report.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from atlas_kernel.bench.executors import EXECUTORS, make_executor
from atlas_kernel.bench.fingerprint import fingerprint, lens_file, model_identity
from atlas_kernel.bench.power import PowerMeter
from atlas_kernel.bench.task_progress import BenchProgress
from atlas_kernel.bench.rundir import RESULTS_FILE, RunLock, append_result, close_session, open_run, read_results
from atlas_kernel.bench.runner import RunSpec
from atlas_kernel.bench.selection import Selection
from atlas_kernel.bench.worker import Job, init_worker, install_model, run_job
from atlas_kernel.errors import AtlasError
from atlas_kernel.problems.types import Task

__all__ = ["BenchSpec", "ExecOptions", "BenchRun", "AblationRun", "execute"]

Row = dict[str, Any]
OnResult = Callable[[Row], None]


@dataclass(frozen=True)
class BenchSpec:
    """What is run: everything that decides a task's result (and so a run directory's identity)."""

    suite: str
    conditions: tuple[str | None, ...]  # None: plain sampling, condition-free
    model: Any = None  # a spec string (loaded in every worker) or a Model object (in-process only)
    selection: Selection = Selection()
    seed: int = 0
    samples: int | None = None
    temperature: float = 0.0
    overrides: tuple[tuple[str, Any], ...] = ()  # PipelineConfig overrides, as sorted pairs
    online_lens: bool = False
    lens: str | None = None  # a Lens file (.npz) or cross-fitted set (.json) for the conditions that use the Lens

    @property
    def ablation(self) -> bool:
        return len(self.conditions) > 1

    @property
    def model_spec(self) -> str | None:
        return self.model if isinstance(self.model, (str, type(None))) else None

    def label(self, condition: str | None) -> str:
        return condition or f"samples{self.samples}"

    def run_spec(self, condition: str | None, *, online: bool = False) -> RunSpec:
        lens = self.lens if condition in self.lens_conditions() else None
        return RunSpec(self.suite, condition or "A", self.model_spec, self.seed, self.overrides, online_lens=online,
                       lens=lens)

    def lens_conditions(self) -> set[str]:
        return {c for c in self.conditions if c and RunSpec(self.suite, c, None, self.seed, self.overrides).config().lens}


@dataclass(frozen=True)
class ExecOptions:
    """How it is run: never changes a task's result."""

    workers: int = 1
    threads: int | None = None  # llama.cpp threads per worker (default: the cores divided by workers)
    executor: str = "local"
    power_watts: float | None = None
    progress: str = "auto"
    keep_traces: bool = True
    on_result: OnResult | None = None


@dataclass
class BenchRun:
    out: Path
    condition: str | None
    rows: list[Row]
    summary: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] | None = None

    @property
    def pass_rate(self) -> float | None:
        return self.summary.get("pass_at_1")


@dataclass
class AblationRun:
    out: Path
    runs: dict[str, BenchRun]
    report: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Arm:
    """One condition of the run and its directory (the run's own, or a subdirectory per condition)."""

    label: str
    condition: str | None
    directory: Path
    spec: RunSpec
    done: dict[str, Row] = field(default_factory=dict)


@dataclass
class _Unit:
    job: Job
    results: Path
    label: str


# -- checking and normalising the request -------------------------------------------------------
def _spec_overrides(overrides: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    from atlas_kernel.pipeline.config import PipelineConfig

    items = tuple(sorted((overrides or {}).items()))
    try:
        PipelineConfig.for_condition("E", **dict(items))  # reject unknown keys now, not in a worker
    except TypeError as exc:
        raise AtlasError(f"unknown pipeline setting in overrides ({exc})") from None
    except ValueError as exc:
        raise AtlasError(f"bad pipeline setting: {exc}") from None
    return items


def _absolute_suite(suite: str) -> str:
    name, sep, arg = suite.partition(":")
    return f"{name}:{Path(arg).expanduser().resolve()}" if sep and arg and Path(arg).expanduser().exists() else suite


def _absolute_model(model: Any) -> Any:
    if not isinstance(model, str) or model.startswith(("http://", "https://")):
        return model
    from atlas_kernel.bench.testing_model import PREFIX, is_scripted_spec

    if is_scripted_spec(model):
        path = Path(model[len(PREFIX):]).expanduser()
        return PREFIX + str(path.resolve()) if path.exists() else model
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def _checked(spec: BenchSpec, how: ExecOptions, overrides: dict[str, Any] | None) -> BenchSpec:
    """The spec with validated overrides and absolute paths (workers, Ray's especially, may start
    in another directory)."""
    if how.executor not in EXECUTORS:
        raise AtlasError(f"unknown executor {how.executor!r} — use local (worker processes) or ray")
    if spec.samples is not None and spec.samples < 1:
        raise AtlasError(f"--samples must be at least 1, got {spec.samples}")
    if spec.samples is not None and spec.temperature <= 0:
        raise AtlasError("--samples draws independent samples: give --temperature above 0 (e.g. 0.8)")
    spec = replace(spec, suite=_absolute_suite(spec.suite), model=_absolute_model(spec.model))
    spec = replace(spec, overrides=_spec_overrides(overrides))
    if spec.online_lens and not spec.lens_conditions():
        raise AtlasError("--online-lens recalibrates the Lens, which conditions "
                         f"{', '.join(c or 'samples' for c in spec.conditions)} do not use — run condition C or E")
    if spec.lens is not None:
        spec = replace(spec, lens=_checked_lens(spec))
    return spec


def _checked_lens(spec: BenchSpec) -> str:
    """--lens: the absolute path, for a run with a condition that uses the Lens."""
    if not spec.lens_conditions():
        raise AtlasError(f"--lens gives the Lens, which conditions {', '.join(c or 'samples' for c in spec.conditions)} "
                         "do not use — run condition C or E")
    return str(Path(spec.lens).expanduser().resolve())


def _check_lens(spec: BenchSpec, chosen: list[Task]) -> None:
    """Load the --lens file once here, so a bad file, another model's lens or a cross-fitted set
    without a fold for some task of the run is one clear line, not one error per task in a worker."""
    if not spec.lens:
        return
    from atlas_kernel.lens.crossfit import load_scorer

    if isinstance(spec.model, (str, type(None))):
        from atlas_kernel.bench.testing_model import is_scripted_spec
        from atlas_kernel.models.registry import model_name

        name = None if is_scripted_spec(spec.model) else model_name(spec.model)
    else:
        name = getattr(spec.model, "name", None)
    scorer = load_scorer(spec.lens, name)
    if spec.online_lens and not hasattr(scorer, "lens"):
        raise AtlasError("--online-lens recalibrates one Lens; a cross-fitted set holds one per fold — drop one of them")
    fold_of = getattr(scorer, "fold_of", None)  # a cross-fitted set; a single Lens ranks every task
    missing = [t.id for t in chosen if t.id not in fold_of] if fold_of is not None else []
    if missing:
        raise AtlasError(f"{len(missing)} task(s) of this run are in no fold of {spec.lens} (e.g. {missing[0]}) — "
                         "use a set made for this suite")


# -- run.json -----------------------------------------------------------------------------------
def _base_meta(spec: BenchSpec, chosen: list[Task], fp: dict[str, Any]) -> dict[str, Any]:
    from atlas_kernel import __version__

    return {"atlas_kernel": __version__, "suite": spec.suite, "selection": spec.selection.to_dict(),
            "tasks": [t.id for t in chosen], "seed": spec.seed, "model": fp, "model_id": model_identity(fp),
            "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _ablation_meta(spec: BenchSpec, base: dict[str, Any]) -> dict[str, Any]:
    conditions = list(spec.conditions)
    return {**base, "kind": "ablation", "mode": "pipeline", "condition": None, "conditions": conditions,
            "config": {c: RunSpec(spec.suite, c, spec.model_spec, spec.seed, spec.overrides).config().to_dict()
                       for c in conditions},
            "samples": None, "temperature": None}


def _arm_meta(spec: BenchSpec, arm: Arm, base: dict[str, Any]) -> dict[str, Any]:
    meta = {**base, "kind": "bench", "mode": "samples" if spec.samples else "pipeline", "condition": arm.condition,
            "config": arm.spec.config().to_dict(), "overrides": dict(spec.overrides), "samples": spec.samples,
            "temperature": spec.temperature if spec.samples else None}
    if arm.spec.online_lens:
        # updates from public-example outcomes only: still an honest score, but one that
        # depends on task order and on how tasks were spread over workers
        meta["online_lens"] = "public"
    if arm.spec.lens:
        from atlas_kernel.lens.crossfit import lens_identity

        meta["lens"] = lens_identity(arm.spec.lens)  # part of the run's identity: --resume refuses another lens
    return meta


def _session(how: ExecOptions, meter: PowerMeter, model: Any, lens: str | None = None) -> dict[str, Any]:
    return {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "executor": how.executor, "workers": how.workers,
            "threads": how.threads, "pid": os.getpid(), "power": meter.to_dict(),
            "lens": {"path": lens, "source": "--lens"} if lens else lens_file(model)}


def _arms(spec: BenchSpec, out: Path) -> list[Arm]:
    lens_conds = spec.lens_conditions()
    arms = []
    for cond in spec.conditions:
        online = spec.online_lens and cond in lens_conds
        directory = out / cond if spec.ablation else out  # an ablation's conditions are never None
        arms.append(Arm(spec.label(cond), cond, directory, spec.run_spec(cond, online=online)))
    return arms


def _open_arms(spec: BenchSpec, how: ExecOptions, arms: list[Arm], chosen: list[Task], base: dict[str, Any],
               session: dict[str, Any], resume: bool) -> list[_Unit]:
    """Open (or resume) every arm's directory; the units still to run."""
    units: list[_Unit] = []
    for arm in arms:
        arm.directory.mkdir(parents=True, exist_ok=True)
        arm.done = open_run(arm.directory, _arm_meta(spec, arm, base), resume=resume, session=dict(session))
        units += [_Unit(Job(spec.suite, t.id, arm.spec, str(arm.directory), spec.samples, spec.temperature,
                            how.keep_traces), arm.directory / RESULTS_FILE, arm.label)
                  for t in chosen if t.id not in arm.done]
    return units


# -- executing ----------------------------------------------------------------------------------
def _executor_for(kind: str, workers: int, model: Any, threads: int | None = None):
    """An executor whose workers hold the model: a spec string is loaded in every worker."""
    if not isinstance(model, (str, type(None))):
        from atlas_kernel.bench.worker import bench_prompt_style

        if kind not in ("inline", "local"):
            raise AtlasError("a model object lives in this process: run it with executor='inline' "
                             "(or pass a model spec string for worker processes / Ray)")
        return make_executor("inline", 1, install_model, (model, bench_prompt_style(None, model), None))
    # split the cores between workers; llama.cpp threads spin while waiting, so oversubscribing
    # them is far slower than leaving a core idle (--threads overrides, e.g. on a busy machine)
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    if kind == "local":
        return make_executor(kind, workers, init_worker, (model, threads, os.getpid()))
    if kind == "ray":
        return make_executor(kind, workers, init_worker, (model, threads, None))
    return make_executor(kind, workers, init_worker, (model, None, None))


def _finish_row(row: Row, meter: PowerMeter, workers: int) -> Row:
    watts = meter.watts()
    row["power_w"] = watts
    row["energy_j"] = watts * float(row.get("wall_s", 0.0)) / workers
    row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return row


def _execute(units: list[_Unit], executor: Any, progress: BenchProgress, meter: PowerMeter, workers: int,
             on_result: OnResult | None) -> list[dict[str, str]]:
    """Run units with at most 2 x workers in flight; append each row the moment it is back."""
    errors: list[dict[str, str]] = []
    queue: Iterator[_Unit] = iter(units)
    pending: dict[Future, _Unit] = {}
    window = max(2, 2 * workers)  # the next job is always queued; no more, so a crash loses little
    while True:
        for unit in queue:
            pending[executor.submit(run_job, unit.job)] = unit
            if len(pending) >= window:
                break
        if not pending:
            break
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            unit = pending.pop(fut)
            try:
                row = fut.result()
            except BrokenExecutor as exc:
                raise AtlasError(f"a worker process died ({exc}) — finished tasks are saved; rerun with --resume") from None
            except Exception as exc:  # noqa: BLE001 - one task's failure must not lose the others
                msg = f"{type(exc).__name__}: {exc}"
                errors.append({"task_id": unit.job.task_id, "label": unit.label, "error": msg})
                progress.note(f"[{unit.label}] {unit.job.task_id}: ERROR {msg} (not recorded; --resume retries it)")
                continue
            append_result(unit.results, _finish_row(row, meter, workers))  # durable before it is counted anywhere
            progress.update(row, unit.label)
            if on_result:
                on_result(row)
    return errors


def _run_units(units: list[_Unit], spec: BenchSpec, how: ExecOptions, bar: BenchProgress,
               meter: PowerMeter) -> list[dict[str, str]]:
    if not units:
        bar.close()
        return []
    meter.start()
    try:
        pool = _executor_for(how.executor, how.workers, spec.model, how.threads)
        try:
            errors = _execute(units, pool, bar, meter, how.workers, how.on_result)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # interrupted: do not wait for running tasks
            raise
        pool.shutdown(wait=True)
        return errors
    finally:
        meter.stop()
        bar.close()


def _progress(spec: BenchSpec, how: ExecOptions, arms: list[Arm], chosen: list[Task], out: Path) -> BenchProgress:
    total = len(chosen) * len(arms)
    prior = sum(len(arm.done) for arm in arms)
    bar = BenchProgress(total, already_done={arm.label: list(arm.done.values()) for arm in arms},
                        label="ablation" if spec.ablation else spec.label(spec.conditions[0]), style=how.progress)
    if prior:
        bar.note(f"resuming: {prior} of {total} task runs already finished in {out}")
    return bar


# -- closing ------------------------------------------------------------------------------------
def _close(spec: BenchSpec, arms: list[Arm], chosen: list[Task], out: Path, errors: list[dict[str, str]],
           elapsed: float, meter: PowerMeter) -> dict[str, BenchRun]:
    from atlas_kernel.bench.metrics import summarize

    runs: dict[str, BenchRun] = {}
    for arm in arms:
        mine = [e for e in errors if e["label"] == arm.label]
        close_session(arm.directory, {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "elapsed_s": elapsed,
                                      "power": meter.to_dict(), "errors": mine})
        rows_by_id = read_results(arm.directory / RESULTS_FILE)
        rows = [rows_by_id[t.id] for t in chosen if t.id in rows_by_id]
        runs[arm.label] = BenchRun(arm.directory, arm.condition, rows, summarize(rows), mine)
    if spec.ablation:
        close_session(out, {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "elapsed_s": elapsed,
                            "power": meter.to_dict(), "errors": errors})
    return runs


def _write_report(spec: BenchSpec, runs: dict[str, BenchRun], out: Path) -> dict[str, Any]:
    from atlas_kernel.bench.report import write_report

    if spec.ablation:
        return write_report(out)
    run = next(iter(runs.values()))
    run.report = write_report(run.out)
    return run.report


def execute(spec: BenchSpec, how: ExecOptions, out: Path, *, overrides: dict[str, Any] | None = None,
            resume: bool = False, report: bool = True) -> tuple[dict[str, BenchRun], list[dict[str, str]], dict[str, Any] | None]:
    """Run `spec` into `out`: (one BenchRun per condition label, task errors, the report or None)."""
    spec = _checked(spec, how, overrides)
    out = Path(out).resolve()
    chosen = spec.selection.select(spec.suite)
    _check_lens(spec, chosen)
    base = _base_meta(spec, chosen, fingerprint(spec.model))
    meter = PowerMeter(how.power_watts)
    session = _session(how, meter, spec.model, spec.lens)
    lock = RunLock(out)
    try:
        if spec.ablation:
            open_run(out, _ablation_meta(spec, base), resume=resume, session=dict(session))
        arms = _arms(spec, out)
        units = _open_arms(spec, how, arms, chosen, base, session, resume)
        bar = _progress(spec, how, arms, chosen, out)
        t0 = time.perf_counter()
        errors = _run_units(units, spec, how, bar, meter)
        runs = _close(spec, arms, chosen, out, errors, time.perf_counter() - t0, meter)
        return runs, errors, _write_report(spec, runs, out) if report else None
    finally:
        lock.release()
