"""Executors on the same few tasks: local worker processes 1 -> 2 (scaling) and Ray vs local (overhead).

    nice -n 10 .venv/bin/python benchmark/bench_executors.py [--tasks 8] [--model qwen-coder-0.5b] [--no-ray]

Condition A (single shot) with the embedded model on the first N HumanEval tasks, one llama.cpp
thread per worker (so "2 workers" means 2 cores, not 2 x all cores). For each configuration:
wall time of the whole run (worker start, model load, solving, grading), time to the first
finished task (start-up cost), and throughput after it. Verdicts must agree across
configurations (greedy decoding, same threads), which checks that the executors change only
where tasks run. Ray is started once by this script (ray.init(num_cpus=2)); its start-up is
measured separately. Writes benchmark/results/executors.json.

Figures depend on what else runs on the machine: the load average before and after each
configuration is recorded next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


from atlas_kernel.bench import run_benchmark

RESULTS = Path(__file__).parent / "results" / "executors.json"


def measure(label: str, executor: str, workers: int, n_tasks: int, model: str, root: Path) -> dict:
    firsts: list[float] = []
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    run = run_benchmark("humaneval", condition="A", model=model, limit=n_tasks, out=root / label, workers=workers,
                        threads=1, executor=executor, progress="plain",
                        on_result=lambda row: firsts.append(time.perf_counter() - t0))
    wall = time.perf_counter() - t0
    rest = n_tasks - 1
    steady = (rest / (firsts[-1] - firsts[0])) if rest and firsts[-1] > firsts[0] else None
    out = {"executor": executor, "workers": workers, "threads_per_worker": 1, "tasks": n_tasks, "wall_s": round(wall, 2),
           "first_result_s": round(firsts[0], 2), "throughput_after_first_tasks_per_s": round(steady, 4) if steady else None,
           "solve_s_per_task": round(run.summary["wall_s"]["per_task"], 2), "solved": run.summary["solved"],
           "verdicts": {r["task_id"]: r["grade"] for r in run.rows}, "worker_pids": len({r["worker_pid"] for r in run.rows}),
           "loadavg_1m_before": round(load_before, 2), "loadavg_1m_after": round(os.getloadavg()[0], 2)}
    print(f"== {label}: {json.dumps({k: v for k, v in out.items() if k != 'verdicts'})}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    report: dict = {"suite": "humaneval", "condition": "A", "model": args.model, "cpus": os.cpu_count(), "runs": {},
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-exec-") as tmp:
        root = Path(tmp)
        report["runs"]["local_1"] = measure("local_1", "local", 1, args.tasks, args.model, root)
        report["runs"]["local_2"] = measure("local_2", "local", 2, args.tasks, args.model, root)
        if not args.no_ray:
            try:
                import ray
            except ImportError:
                report["ray"] = "not installed (pip install ray)"
            else:
                t0 = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
                report["ray_init_s"] = round(time.perf_counter() - t0, 2)
                try:
                    report["runs"]["ray_1"] = measure("ray_1", "ray", 1, args.tasks, args.model, root)
                    report["runs"]["ray_2"] = measure("ray_2", "ray", 2, args.tasks, args.model, root)
                finally:
                    ray.shutdown()
    runs = report["runs"]
    report["local_speedup_1_to_2"] = round(runs["local_1"]["wall_s"] / runs["local_2"]["wall_s"], 3)
    if "ray_2" in runs:
        report["ray_overhead_s"] = {f"{w}_workers": round(runs[f"ray_{w}"]["wall_s"] - runs[f"local_{w}"]["wall_s"], 2) for w in (1, 2)}
        report["ray_first_result_overhead_s"] = {f"{w}_workers": round(runs[f"ray_{w}"]["first_result_s"] - runs[f"local_{w}"]["first_result_s"], 2)
                                                 for w in (1, 2)}
    verdicts = [r["verdicts"] for r in runs.values()]
    report["verdicts_agree"] = all(v == verdicts[0] for v in verdicts)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
