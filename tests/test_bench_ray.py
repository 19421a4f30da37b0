"""The Ray executor on a small local Ray started by the test (skipped without ray)."""

from __future__ import annotations

import json
from concurrent.futures import Executor

import pytest

from bench_helpers import solvable, write_model, write_suite

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():  # one small Ray for the module: starting one costs several seconds
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.timeout(240)
def test_ray_actors_run_the_jobs_and_stream_rows_into_the_same_crash_safe_log(tmp_path, local_ray):
    from atlas_kernel.bench import run_benchmark
    from atlas_kernel.bench.executors import RayExecutor

    assert issubclass(RayExecutor, Executor)
    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 6))
    model = write_model(tmp_path / "model.json", 6)
    seen = []
    run = run_benchmark(suite, model=f"scripted:{model}", out=tmp_path / "ray", workers=2, executor="ray",
                        progress="none", on_result=seen.append)
    assert [r["task_id"] for r in run.rows] == [f"add{i}" for i in range(6)]
    assert [r["passed"] for r in run.rows] == [solvable(i) for i in range(6)]
    assert len(seen) == 6 and len({r["worker_pid"] for r in run.rows}) <= 2
    lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["sessions"][0]["executor"] == "ray"
    assert local_ray.is_initialized()  # a Ray the caller started is left running for the caller


def test_ray_executor_reports_a_failed_model_load_as_one_clear_error(tmp_path, local_ray):
    from atlas_kernel.bench.executors import RayExecutor
    from atlas_kernel.bench.worker import init_worker
    from atlas_kernel.errors import AtlasError

    with pytest.raises(AtlasError, match="missing.json"):
        RayExecutor(1, init_worker, (f"scripted:{tmp_path / 'missing.json'}", None, None))
