"""A real `atlas bench` process killed with SIGKILL at several moments, then resumed: the final
log equals an uninterrupted run's (same task ids, each exactly once, same verdicts). Also the
local worker-process executor in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas_kernel.bench import run_benchmark
from atlas_kernel.models.scripted import ScriptedModel
from bench_helpers import RIGHT, WRONG, fence, solvable, task_index, write_model, write_suite

N = 10
_SCRIPT = Path(sys.executable).with_name("atlas")  # the installed console script, as a user runs it
ATLAS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "atlas_kernel.cli.main"]


def _complete_lines(log: Path) -> list[dict]:
    rows = []
    if not log.exists():
        return rows
    for line in log.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the torn line of a killed write
    return rows


def _bench_cmd(suite: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [*ATLAS, "bench", "--suite", f"jsonl:{suite}", "--model", f"scripted:{model}", "--condition", "B",
            "--set", "k=2", "--set", "n_plans=0", "--out", str(out), "--workers", "2", "--quiet", *extra]


def _gone(pgid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _kill_when(cmd: list[str], log: Path, finished_at_least: int, *, after_s: float = 0.0) -> int:
    """Start the run, wait until the log holds `finished_at_least` rows (and `after_s` passed), SIGKILL it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    t0 = time.monotonic()
    try:
        while proc.poll() is None:
            if len(_complete_lines(log)) >= finished_at_least and time.monotonic() - t0 >= after_s:
                break
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # only the main process: workers must follow by themselves
        proc.wait(timeout=30)
        workers_died = _gone(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # clean up whatever this test started, if anything is left
        except ProcessLookupError:
            pass
    assert workers_died, "worker processes outlived the killed `atlas bench`"
    return len(_complete_lines(log))


@pytest.mark.timeout(240)
def test_killed_runs_resume_to_the_same_results_as_an_uninterrupted_run(tmp_path):
    suite = write_suite(tmp_path / "suite.jsonl", N)
    model = write_model(tmp_path / "model.json", N, delay_s=0.15)
    ref_out, out = tmp_path / "ref", tmp_path / "crashed"
    done = subprocess.run(_bench_cmd(suite, model, ref_out), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    reference = {r["task_id"]: (r["passed"], r["hidden_verdicts"], r["solved_by"]) for r in _complete_lines(ref_out / "results.jsonl")}
    assert len(reference) == N

    log = out / "results.jsonl"
    seen = []
    seen.append(_kill_when(_bench_cmd(suite, model, out), log, 0, after_s=1.0))  # during worker start-up
    seen.append(_kill_when(_bench_cmd(suite, model, out, "--resume"), log, seen[-1] + 2))  # mid-run
    seen.append(_kill_when(_bench_cmd(suite, model, out, "--resume"), log, seen[-1] + 3))  # later
    assert seen[-1] < N, f"the run finished before it could be killed ({seen})"
    print("rows in the log after each kill:", seen)
    final = subprocess.run(_bench_cmd(suite, model, out, "--resume"), capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr

    rows = _complete_lines(log)
    ids = [r["task_id"] for r in rows]
    assert sorted(ids) == sorted(reference) and len(ids) == len(set(ids)) == N  # each task exactly once
    assert {r["task_id"]: (r["passed"], r["hidden_verdicts"], r["solved_by"]) for r in rows} == reference
    sessions = json.loads((out / "run.json").read_text())["sessions"]
    assert len(sessions) == 4 and "finished" in sessions[-1] and "finished" not in sessions[0]
    assert (out / "report.md").exists()


def test_local_worker_processes_give_the_same_rows_as_the_in_process_run(tmp_path):
    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 6))
    model = write_model(tmp_path / "model.json", 6)
    par = run_benchmark(suite, model=f"scripted:{model}", out=tmp_path / "par", workers=2, executor="local", progress="none")
    inline = run_benchmark(suite, model=ScriptedModel(lambda p, s: fence(RIGHT.format(i=task_index(p)) if solvable(task_index(p)) else WRONG)),
                           out=tmp_path / "inline", progress="none")
    assert [(r["task_id"], r["passed"], r["hidden_verdicts"]) for r in par.rows] == \
           [(r["task_id"], r["passed"], r["hidden_verdicts"]) for r in inline.rows]
    pids = {r["worker_pid"] for r in par.rows}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    meta = json.loads((tmp_path / "par" / "run.json").read_text())
    assert meta["model"]["kind"] == "scripted" and len(meta["model"]["sha256"]) == 64
