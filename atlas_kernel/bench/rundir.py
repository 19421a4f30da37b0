"""The run directory: its layout, run.json, the crash-safe results log, and the lock.

Run directory (one condition, or plain sampling):
    run.json        what was run: suite, task ids, condition, full config, seed, model spec + file
                    sha256, package version, Python/platform, power source, one entry per session
    results.jsonl   one JSON line per finished task (flushed + fsynced before the next is counted)
    traces/         one trace per task (every prompt, completion, test run), referenced by its row
    report.md/.json, plots/   written at the end, or again by `atlas bench report DIR`
An ablation directory holds run.json (kind "ablation") and one such directory per condition.

Resume: finished task ids are read back from results.jsonl (a torn last line is ignored) and
skipped; only the parent process writes the log, after a worker returned, so a task is written
once. A lock file keeps two runs from writing the same directory at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError

__all__ = ["RUN_FILE", "RESULTS_FILE", "LOCK_FILE", "TRACES_DIR", "trace_name", "IDENTITY", "RunLock", "default_out", "open_run",
           "close_session", "read_results", "append_result", "write_json"]

RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"
LOCK_FILE = ".lock"
TRACES_DIR = "traces"


def trace_name(task_id: str) -> str:
    """A task's trace file in TRACES_DIR (task ids like HumanEval/0 hold a slash)."""
    return task_id.replace("/", "_") + ".json"
# what must match for --resume to continue a run (everything that changes a task's result)
IDENTITY = ("kind", "suite", "tasks", "mode", "condition", "config", "seed", "samples", "temperature", "model_id",
            "online_lens", "lens")


def write_json(path: Path, obj: Any) -> None:
    """Atomic: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    """Finished tasks of a run; a torn last line (crash mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        done.setdefault(row["task_id"], row)  # first complete record wins: never duplicated
    return done


def append_result(path: Path, row: dict[str, Any]) -> None:
    data = (json.dumps(row, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # a torn previous line (killed mid-write) must not swallow this one
        if os.fstat(fd).st_size > 0:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    os.write(fd, b"\n")
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "run"


def default_out(suite: str, label: str, model: Any) -> Path:
    name, _, arg = suite.partition(":")
    model_name = model if isinstance(model, str) or model is None else getattr(model, "name", "model")
    if not model_name:
        from atlas_kernel.models.bundled import DEFAULT_MODEL

        model_name = os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL
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


def upgrade_run_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A run.json as this version writes it: an older one's config may hold fields PipelineConfig no
    longer has (never read); without them, `--resume` matches the run it continues."""
    from atlas_kernel.pipeline.config import PipelineConfig

    cfg = meta.get("config")
    if not isinstance(cfg, dict):
        return meta
    if meta.get("kind") == "ablation":  # one config per condition
        cfg = {c: PipelineConfig.current_fields(v) if isinstance(v, dict) else v for c, v in cfg.items()}
    else:
        cfg = PipelineConfig.current_fields(cfg)
    return {**meta, "config": cfg}


def _read_run_file(run_file: Path) -> dict[str, Any] | None:
    if not run_file.exists():
        return None
    try:
        return upgrade_run_meta(json.loads(run_file.read_text(encoding="utf-8")))
    except json.JSONDecodeError:
        return None  # torn by a crash during the very first write: nothing finished relies on it


def _resumed_meta(directory: Path, meta: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The stored run.json to continue, after checking that `meta` describes the same run."""
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
    resumed = {**old, "sessions": list(old.get("sessions", []))}
    if extended is not None:
        resumed["config"] = dict(sorted(extended.items()))
        resumed["conditions"] = sorted(extended)
    return resumed


def open_run(directory: Path, meta: dict[str, Any], *, resume: bool, session: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Write or check run.json, adding `session`; the finished rows of the run (empty for a fresh one)."""
    run_file, results = directory / RUN_FILE, directory / RESULTS_FILE
    done = read_results(results)
    old = _read_run_file(run_file)
    if done and not resume:
        raise AtlasError(f"{directory} already holds {len(done)} finished task(s) — pass --resume to continue that run, "
                         "or choose another --out")
    # a condition's run without a finished task has nothing to continue: its settings may change
    unstarted = (not done and old is not None and meta.get("kind") == old.get("kind") != "ablation"
                 and _identity(meta) != _identity(old))
    if old is not None and resume and not unstarted:
        meta = _resumed_meta(directory, meta, old)
    else:
        meta = {**meta, "sessions": []}
    meta["sessions"].append(session)
    write_json(run_file, meta)
    return {tid: row for tid, row in done.items() if tid in set(meta["tasks"])}


def close_session(directory: Path, updates: dict[str, Any]) -> None:
    """Record how this process's session ended (time, power, errors) in run.json."""
    run_file = directory / RUN_FILE
    meta = json.loads(run_file.read_text(encoding="utf-8"))
    meta["sessions"][-1].update(updates)
    write_json(run_file, meta)
