"""What runs inside a benchmark worker (a local process, a Ray actor, or the calling process).

A worker loads its model once (`init_worker`), then runs `run_job(job)` for each task. A job
names its task by suite spec + id, never carries the task: `HiddenTests` refuse to be pickled on
purpose, so each worker reloads the suite itself (once, cached) and grades inside the worker,
after the pipeline has seen only `task.problem`. The returned row is plain JSON-able data.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas_kernel.bench.runner import RunSpec, sample_and_grade, solve_and_grade
from atlas_kernel.problems.types import Task


@dataclass(frozen=True)
class Job:
    """One task of one run, as sent to a worker (picklable, holds no test data)."""

    suite: str
    task_id: str
    spec: RunSpec  # condition, model spec, seed, config overrides
    run_dir: str  # where traces of this run go (traces/ under it)
    samples: int | None = None  # plain sampling: that many samples at `temperature`, no pipeline
    temperature: float = 0.0
    keep_traces: bool = True


@dataclass
class _WorkerState:
    model: Any = None
    model_spec: str | None = None
    style: str = "chat"
    suites: dict[str, dict[str, Task]] = field(default_factory=dict)
    online: dict[str, Any] = field(default_factory=dict)  # condition and lens -> this worker's energy scorer
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _WorkerState()


# -- models ---------------------------------------------------------------------------------
def load_bench_model(spec: str | None, *, threads: int | None = None):
    """A model for a benchmark spec: everything `load_model` knows, plus `scripted:FILE.json` (tests)."""
    from atlas_kernel.bench.testing_model import is_scripted_spec, load_scripted

    if is_scripted_spec(spec):
        return load_scripted(str(spec))
    from atlas_kernel.models.registry import load_model, resolve

    kind, _ = resolve(spec)
    # several workers on one machine: split the cores instead of oversubscribing them
    kwargs = {"n_threads": threads} if (kind == "gguf" and threads) else {}
    return load_model(spec, **kwargs)


def bench_prompt_style(spec: str | None, model: Any) -> str:
    from atlas_kernel.bench.testing_model import is_scripted_spec

    if is_scripted_spec(spec):
        return "chat"
    from atlas_kernel.models.registry import prompt_style

    return prompt_style(spec, model)


# -- worker lifecycle -----------------------------------------------------------------------
def _die_with_parent(parent_pid: int) -> None:
    """A killed `atlas bench` must not leave workers decoding for nobody: on Linux the kernel
    sends SIGKILL when the parent dies (PR_SET_PDEATHSIG); elsewhere a watchdog thread polls."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent_pid:  # the parent died before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, name="atlas-parent-watch", daemon=True).start()


def init_worker(model_spec: str | None, threads: int | None = None, parent_pid: int | None = None) -> None:
    """Process-pool initializer / actor constructor: load this worker's model once."""
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    model = load_bench_model(model_spec, threads=threads)
    install_model(model, bench_prompt_style(model_spec, model), model_spec)


def install_model(model: Any, style: str, model_spec: str | None = None) -> None:
    """Use an already-loaded model in this process (the in-process executor)."""
    _STATE.model, _STATE.style, _STATE.model_spec = model, style, model_spec
    _STATE.online = {}


def _energy_scorer(job: Job) -> Any:
    """The job's energy scorer: None (the pipeline finds the model's default Lens), the `--lens`
    file or cross-fitted set, or this worker's OnlineLens for the job's condition, made on first
    use (each worker process recalibrates its own copy from the tasks it runs, in their order)."""
    if not job.spec.online_lens and not job.spec.lens:
        return None
    key = f"{job.spec.condition}|{job.spec.lens or ''}|{job.spec.online_lens}"
    scorer = _STATE.online.get(key)
    if scorer is None:
        from atlas_kernel.lens.crossfit import load_scorer
        from atlas_kernel.lens.scoring import OnlineLens, online_scorer_for

        name = getattr(_STATE.model, "name", None)
        given = load_scorer(job.spec.lens, name) if job.spec.lens else None
        if not job.spec.online_lens:
            scorer = given
        elif given is not None:
            scorer = OnlineLens(given.lens, model_id=name, start=given.name)
        else:
            scorer = online_scorer_for(_STATE.model)
        _STATE.online[key] = scorer
    return scorer


def _task(suite: str, task_id: str) -> Task:
    with _STATE.lock:
        tasks = _STATE.suites.get(suite)
        if tasks is None:
            from atlas_kernel.problems import load_suite

            tasks = {t.id: t for t in load_suite(suite)}  # all of it, once: ids were chosen by the parent
            _STATE.suites[suite] = tasks
    try:
        return tasks[task_id]
    except KeyError:
        from atlas_kernel.errors import AtlasError

        raise AtlasError(f"suite {suite!r} has no task {task_id!r} in this worker — did the file change during the run?") from None


def run_job(job: Job) -> dict[str, Any]:
    """Solve (or sample, or answer) one task and grade it; returns its result row."""
    from atlas_kernel.bench.choice import is_choice_problem, solve_and_grade_choice

    if _STATE.model is None:
        raise RuntimeError("worker has no model: init_worker() was not run in this process")
    task = _task(job.suite, job.task_id)
    trace_dir = Path(job.run_dir) / "traces" if job.keep_traces else None
    if trace_dir is not None:
        trace_dir.mkdir(parents=True, exist_ok=True)
    cfg = job.spec.config()
    if is_choice_problem(task.problem):
        row = solve_and_grade_choice(task, _STATE.model, condition=None if job.samples else job.spec.condition,
                                     seed=job.spec.seed, style=_STATE.style, max_tokens=cfg.max_tokens,
                                     n_samples=job.samples, temperature=job.temperature, trace_dir=trace_dir)
    elif job.samples:
        row = sample_and_grade(task, _STATE.model, n=job.samples, temperature=job.temperature, seed=job.spec.seed,
                               max_tokens=cfg.max_tokens, trace_dir=trace_dir, style=_STATE.style)
    else:
        scorer = _energy_scorer(job)
        row = solve_and_grade(task, _STATE.model, job.spec, trace_dir, _STATE.style, energy_scorer=scorer)
        if scorer is not None and row.get("online_lens", {}).get("updated"):
            # the recalibrated weights as they stand, so a run's end state can be inspected or reused
            path = Path(job.run_dir) / "online_lens" / f"worker-{os.getpid()}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            scorer.lens.save(path)
            row["online_lens"]["file"] = str(path.relative_to(job.run_dir))
    row["worker_pid"] = os.getpid()
    return row
