"""`run_benchmark` and `run_ablation`: choose tasks, lay out the run directory, send jobs to an
executor, append each finished task to the crash-safe log, report.

Run directory (one condition, or plain sampling):
    run.json        what was run: suite, task ids, condition, full config, seed, model spec + file
                    sha256, package version, Python/platform, power source, one entry per session
    results.jsonl   one JSON line per finished task (flushed + fsynced before the next is counted)
    traces/         one trace per task (every prompt, completion, test run), referenced by its row
    report.md/.json, plots/   written at the end, or again by `atlas bench report DIR`
An ablation directory holds run.json (kind "ablation") and one such directory per condition.

Resume: finished task ids are read back from results.jsonl (a torn last line is ignored) and
skipped; only this process writes the log, after a worker returned, so a task is written once.
A lock file keeps two runs from writing the same directory at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from atlas_kernel.bench.executors import EXECUTORS, make_executor
from atlas_kernel.bench.power import PowerMeter
from atlas_kernel.bench.task_progress import BenchProgress
from atlas_kernel.bench.runner import RESULTS_FILE, RunSpec, _write_json, append_result, read_results, upgrade_run_meta
from atlas_kernel.bench.worker import Job, init_worker, install_model, model_fingerprint, run_job
from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.config import CONDITIONS
from atlas_kernel.problems.types import Task

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
# what must match for --resume to continue a run (everything that changes a task's result)
IDENTITY = ("kind", "suite", "tasks", "mode", "condition", "config", "seed", "samples", "temperature", "model_id",
            "online_lens")


# -- task selection ---------------------------------------------------------------------------
def select_tasks(suite: str, *, limit: int | None = None, tasks: Sequence[str] | None = None, every: int | None = None,
                 since: str | None = None, until: str | None = None, difficulty: str | None = None) -> list[Task]:
    """The tasks of a run: suite filters (ids, LiveCodeBench date window, difficulty), then every
    N-th task, then the first `limit`. The selection is fixed before any result is seen."""
    from atlas_kernel.problems import load_suite

    name = suite.partition(":")[0]
    is_lcb = name in ("lcb", "livecodebench")
    if (since or until) and not is_lcb:
        raise AtlasError("--since/--until filter LiveCodeBench problems by contest date: use them with --suite lcb:FILE")
    if every is not None and every < 1:
        raise AtlasError(f"--every must be at least 1, got {every}")
    if limit is not None and limit < 1:
        raise AtlasError(f"--limit must be at least 1, got {limit}")
    chosen = load_suite(suite, task_ids=list(tasks) if tasks else None, since=since, until=until,
                        difficulty=difficulty if is_lcb else None)
    if difficulty and not is_lcb:
        chosen = [t for t in chosen if str(t.problem.metadata.get("difficulty", "")).lower() == difficulty.lower()]
    if every:
        chosen = chosen[::every]
    if limit is not None:
        chosen = chosen[:limit]
    if not chosen:
        raise AtlasError(f"no task of {suite!r} matches the selection — loosen --since/--until/--difficulty/--tasks")
    return chosen


# -- run directories --------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "run"


def default_out(suite: str, label: str, model: Any) -> Path:
    name, _, arg = suite.partition(":")
    model_name = model if isinstance(model, str) or model is None else getattr(model, "name", "model")
    model_name = model_name or os.environ.get("ATLAS_MODEL") or "smollm2"
    return Path("atlas_runs") / _slug(f"{name}-{Path(arg).stem if arg else ''}-{label}-{Path(str(model_name)).stem}".replace("--", "-"))


class RunLock:
    """An exclusive flock on DIR/.lock: released by the kernel when the process dies, even by SIGKILL."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise AtlasError(f"another `atlas bench` is writing {directory} right now — wait for it or use another --out") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in IDENTITY}


def _open_run(directory: Path, meta: dict[str, Any], *, resume: bool, session: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Write or check run.json; the finished rows of the run (empty for a fresh one)."""
    run_file, results = directory / RUN_FILE, directory / RESULTS_FILE
    done = read_results(results)
    old = None
    if run_file.exists():
        try:
            old = upgrade_run_meta(json.loads(run_file.read_text(encoding="utf-8")))
        except json.JSONDecodeError:
            old = None  # torn by a crash during the very first write: nothing finished relies on it
    if done and not resume:
        raise AtlasError(f"{directory} already holds {len(done)} finished task(s) — pass --resume to continue that run, "
                         "or choose another --out")
    if old is not None and resume:
        mine, theirs = _identity(meta), _identity(old)
        diff = [k for k in IDENTITY if mine[k] != theirs[k]]
        extended = None
        if meta.get("kind") == "ablation" and diff == ["config"]:
            # an ablation may be resumed with more (or fewer) conditions: each condition is its own
            # run directory with its own identity check; only the shared ones must agree
            shared = set(meta["config"]) & set(old.get("config") or {})
            if all(meta["config"][c] == old["config"][c] for c in shared):
                diff = []
                extended = {**(old.get("config") or {}), **meta["config"]}
        if diff:
            raise AtlasError(f"{directory} holds a different run (differs in: {', '.join(diff)}) — --resume continues the "
                             "same suite, tasks, condition, config, seed and model file; use a new --out for this one")
        meta = {**old, "sessions": list(old.get("sessions", []))}
        if extended is not None:
            meta["config"] = dict(sorted(extended.items()))
            meta["conditions"] = sorted(extended)
    else:
        meta = {**meta, "sessions": []}
    meta["sessions"].append(session)
    _write_json(run_file, meta)
    return {tid: row for tid, row in done.items() if tid in set(meta["tasks"])}


def _close_session(directory: Path, updates: dict[str, Any]) -> None:
    run_file = directory / RUN_FILE
    meta = json.loads(run_file.read_text(encoding="utf-8"))
    meta["sessions"][-1].update(updates)
    _write_json(run_file, meta)


# -- results ----------------------------------------------------------------------------------
@dataclass
class BenchRun:
    out: Path
    condition: str | None
    rows: list[dict[str, Any]]
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
class _Unit:
    job: Job
    results: Path
    label: str


# -- the engine -------------------------------------------------------------------------------
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


def _execute(units: list[_Unit], executor: Any, progress: BenchProgress, meter: PowerMeter, workers: int,
             on_result: Callable[[dict[str, Any]], None] | None) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """Run units with at most 2 x workers in flight; append each row the moment it is back."""
    new_rows: dict[str, list[dict[str, Any]]] = {}
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
            watts = meter.watts()
            row["power_w"] = watts
            row["energy_j"] = watts * float(row.get("wall_s", 0.0)) / workers
            row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            append_result(unit.results, row)  # durable before it is counted anywhere
            new_rows.setdefault(unit.label, []).append(row)
            progress.update(row, unit.label)
            if on_result:
                on_result(row)
    return new_rows, errors


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


def _model_id(fp: dict[str, Any]) -> dict[str, Any]:
    # a moved model file with the same bytes is the same model; a server is known by its URL
    return {"kind": fp["kind"], "sha256": fp["sha256"]} if fp.get("sha256") else {"kind": fp["kind"], "target": fp.get("target")}


def _fingerprint(model: Any) -> dict[str, Any]:
    if isinstance(model, (str, type(None))):
        return model_fingerprint(model)
    info = model.info() if hasattr(model, "info") else {}
    return {"spec": getattr(model, "name", type(model).__name__), "kind": "object", "target": info.get("path"),
            "sha256": None, "info": info}


def _lens_file(model: Any) -> dict[str, Any] | None:
    """The Lens file the pipeline's Lens hook will load for this model (recorded per session: a
    Lens shipped between two sessions of one run changes conditions C and E)."""
    import hashlib

    from atlas_kernel.lens.scoring import lens_path_for
    from atlas_kernel.models.registry import model_name

    if os.environ.get("ATLAS_NO_LENS"):
        return None
    name = model_name(model) if isinstance(model, (str, type(None))) else getattr(model, "name", None)
    path = lens_path_for(name) if name else None
    if path is None:
        return None
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


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


def _base_meta(suite: str, chosen: list[Task], selection: dict[str, Any], fp: dict[str, Any], seed: int) -> dict[str, Any]:
    from atlas_kernel import __version__

    return {"atlas_kernel": __version__, "suite": suite, "selection": selection, "tasks": [t.id for t in chosen],
            "seed": seed, "model": fp, "model_id": _model_id(fp), "python": sys.version.split()[0],
            "platform": platform.platform(), "cpus": os.cpu_count(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _run(suite: str, conditions: list[str | None], *, model: Any, out: Path, selection: dict[str, Any], workers: int,
         threads: int | None, executor: str, resume: bool, samples: int | None, temperature: float, seed: int, power_watts: float | None,
         overrides: dict[str, Any] | None, progress: str, keep_traces: bool, report: bool,
         on_result: Callable[[dict[str, Any]], None] | None,
         online_lens: bool = False) -> tuple[dict[str, BenchRun], list[dict[str, str]], dict[str, Any] | None]:
    if executor not in EXECUTORS:
        raise AtlasError(f"unknown executor {executor!r} — use local (worker processes) or ray")
    if samples is not None and samples < 1:
        raise AtlasError(f"--samples must be at least 1, got {samples}")
    if samples is not None and temperature <= 0:
        raise AtlasError("--samples draws independent samples: give --temperature above 0 (e.g. 0.8)")
    # workers (Ray's especially) may start in another directory: they get absolute paths
    suite, model, out = _absolute_suite(suite), _absolute_model(model), Path(out).resolve()
    chosen = select_tasks(suite, **selection)
    fp = _fingerprint(model)
    model_spec = model if isinstance(model, (str, type(None))) else None
    items = _spec_overrides(overrides)
    ablation = len(conditions) > 1
    lens_conds = {c for c in conditions if c and RunSpec(suite, c, None, seed, items).config().lens}
    if online_lens and not lens_conds:
        raise AtlasError("--online-lens recalibrates the Lens, which conditions "
                         f"{', '.join(c or 'samples' for c in conditions)} do not use — run condition C or E")
    meter = PowerMeter(power_watts)
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "executor": executor, "workers": workers, "threads": threads,
               "pid": os.getpid(), "power": meter.to_dict(), "lens": _lens_file(model)}
    base = _base_meta(suite, chosen, selection, fp, seed)
    lock = RunLock(out)
    try:
        if ablation:
            _open_run(out, {**base, "kind": "ablation", "mode": "pipeline", "condition": None, "conditions": conditions,
                            "config": {c: RunSpec(suite, c, model_spec, seed, items).config().to_dict() for c in conditions},
                            "samples": None, "temperature": None}, resume=resume, session=dict(session))
        units: list[_Unit] = []
        finished: dict[str, dict[str, dict[str, Any]]] = {}
        dirs: dict[str, Path] = {}
        for cond in conditions:
            label = cond or f"samples{samples}"
            online = online_lens and cond in lens_conds
            spec = RunSpec(suite, cond or "A", model_spec, seed, items, online_lens=online)
            d = out / cond if ablation else out
            dirs[label] = d
            meta = {**base, "kind": "bench", "mode": "samples" if samples else "pipeline", "condition": cond,
                    "config": spec.config().to_dict(), "overrides": dict(items), "samples": samples,
                    "temperature": temperature if samples else None}
            if online:
                # updates from public-example outcomes only: still an honest score, but one that
                # depends on task order and on how tasks were spread over workers
                meta["online_lens"] = "public"
            d.mkdir(parents=True, exist_ok=True)
            done = _open_run(d, meta, resume=resume, session=dict(session))
            finished[label] = done
            units += [_Unit(Job(suite, t.id, spec, str(d), samples, temperature, keep_traces), d / RESULTS_FILE, label)
                      for t in chosen if t.id not in done]
        total = len(chosen) * len(conditions)
        prior = sum(len(rows) for rows in finished.values())
        bar = BenchProgress(total, already_done={k: list(v.values()) for k, v in finished.items()},
                            label="ablation" if ablation else (conditions[0] or f"samples{samples}"), style=progress)
        if prior:
            bar.note(f"resuming: {prior} of {total} task runs already finished in {out}")
        errors: list[dict[str, str]] = []
        t0 = time.perf_counter()
        if units:
            meter.start()
            try:
                pool = _executor_for(executor, workers, model, threads)
                try:
                    _, errors = _execute(units, pool, bar, meter, workers, on_result)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)  # interrupted: do not wait for running tasks
                    raise
                pool.shutdown(wait=True)
            finally:
                meter.stop()
                bar.close()
        else:
            bar.close()
        elapsed = time.perf_counter() - t0
        runs: dict[str, BenchRun] = {}
        from atlas_kernel.bench.metrics import summarize

        for cond in conditions:
            label = cond or f"samples{samples}"
            d = dirs[label]
            _close_session(d, {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "elapsed_s": elapsed, "power": meter.to_dict(),
                               "errors": [e for e in errors if e["label"] == label]})
            rows_by_id = read_results(d / RESULTS_FILE)
            rows = [rows_by_id[t.id] for t in chosen if t.id in rows_by_id]
            runs[label] = BenchRun(d, cond, rows, summarize(rows), [e for e in errors if e["label"] == label])
        if ablation:
            _close_session(out, {"finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "elapsed_s": elapsed,
                                 "power": meter.to_dict(), "errors": errors})
        rep = None
        if report:
            from atlas_kernel.bench.report import write_report

            if ablation:
                rep = write_report(out)
            else:
                run = next(iter(runs.values()))
                run.report = rep = write_report(run.out)
        return runs, errors, rep
    finally:
        lock.release()


def _selection(limit: int | None, tasks: Sequence[str] | str | None, every: int | None, since: str | None,
               until: str | None, difficulty: str | None) -> dict[str, Any]:
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    return {"limit": limit, "tasks": list(tasks) if tasks else None, "every": every, "since": since, "until": until,
            "difficulty": difficulty}


# -- public API -------------------------------------------------------------------------------
def run_benchmark(suite: str, *, condition: str | None = "A", model: Any = None, out: str | Path | None = None,
                  limit: int | None = None, tasks: Sequence[str] | str | None = None, every: int | None = None,
                  since: str | None = None, until: str | None = None, difficulty: str | None = None,
                  workers: int = 1, threads: int | None = None, executor: str = "local", resume: bool = False,
                  samples: int | None = None,
                  temperature: float = 0.8, seed: int = 0, power_watts: float | None = None,
                  overrides: dict[str, Any] | None = None, progress: str = "auto", keep_traces: bool = True,
                  report: bool = True, on_result: Callable[[dict[str, Any]], None] | None = None,
                  online_lens: bool = False) -> BenchRun:
    """Run one condition (or, with `samples`, plain sampling) over a suite; see `atlas bench --help`.

    `model`: a spec (bundled name, .gguf path, server URL) loaded in every worker, or a Model
    object (then the run happens in this process, one task at a time). `threads`: llama.cpp
    threads per worker (default: the cores divided by `workers`). Returns the rows in task
    order and their summary; the run directory holds the log, traces and report.
    `online_lens`: recalibrate the Lens after each task from its candidates' public-example
    outcomes (conditions C and E; each worker keeps its own copy, saved under online_lens/).
    """
    if samples is not None:
        condition = None  # plain sampling is condition-free
    elif (condition or "").upper() not in CONDITIONS:
        raise AtlasError(f"unknown condition {condition!r} — use A (single shot), B, C, D or E (all phases)")
    else:
        condition = condition.upper()
    label = condition or f"samples{samples}"
    out_dir = Path(out) if out is not None else default_out(suite, label, model)
    runs, errors, rep = _run(suite, [condition], model=model, out=out_dir,
                             selection=_selection(limit, tasks, every, since, until, difficulty), workers=workers, threads=threads,
                             executor=executor, resume=resume, samples=samples, temperature=temperature, seed=seed,
                             power_watts=power_watts, overrides=overrides, progress=progress, keep_traces=keep_traces,
                             report=report, on_result=on_result, online_lens=online_lens)
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
                 on_result: Callable[[dict[str, Any]], None] | None = None, online_lens: bool = False) -> AblationRun:
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
    out_dir = Path(out) if out is not None else default_out(suite, "ablation-" + "".join(conds), model)
    runs, errors, rep = _run(suite, list(conds), model=model, out=out_dir,
                             selection=_selection(limit, tasks, every, since, until, difficulty), workers=workers, threads=threads,
                             executor=executor, resume=resume, samples=None, temperature=0.0, seed=seed,
                             power_watts=power_watts, overrides=overrides, progress=progress, keep_traces=keep_traces,
                             report=report, on_result=on_result, online_lens=online_lens)
    return AblationRun(out_dir, runs, rep or {}, errors)
