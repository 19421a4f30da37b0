"""Metrics of benchmark result rows (one row per task, as in results.jsonl).

* pass@1 of the final answer. When several candidates fed the final choice it is named
  "pass@1-v(k)" (one answer submitted, chosen among up to k candidates by public examples,
  self-tests, ...), with k the most candidates any task of the run had; "pass@1" when every
  task had a single candidate (condition A, or GPQA's one generation).
* Unbiased pass@k (Chen et al. 2021) for runs with `--samples N`: N independent samples per
  task, each graded; reported for the usual k <= N and for k = N.
* Tokens (generated) and wall time per task, per phase; sandbox and grading time.
* Energy = power x time. Each task is charged power x its wall time / the number of workers
  that ran at once (the machine's power is shared by the tasks in flight).
* Breakdowns by platform and difficulty (LiveCodeBench metadata) when rows carry them.
* Paired differences between two conditions on the same tasks with bootstrap 95% CIs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

from atlas_kernel.grading.passk import mean_pass_at_k

PASSK_KS = (1, 2, 5, 10, 20, 50, 100)
ORIGINS = ("probe", "plan", "div", "repair", "answer")


def metric_name(rows: Sequence[dict[str, Any]]) -> str:
    if rows and all(r.get("n_samples") for r in rows):
        return "pass@k"
    k = max((int(r.get("n_candidates") or 1) for r in rows), default=1)
    return "pass@1" if k <= 1 else f"pass@1-v({k})"


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return float(sum(xs) / len(xs)) if xs else 0.0


def _phase_order(key: str) -> tuple[int, str]:
    from atlas_kernel.pipeline.pipeline import PHASES

    return (PHASES.index(key) if key in PHASES else len(PHASES), key)


def _per_key_mean(rows: Sequence[dict[str, Any]], field: str) -> dict[str, float]:
    """Mean per phase over all rows (a phase a task skipped counts 0), in pipeline order."""
    keys = sorted({k for r in rows for k in (r.get(field) or {})}, key=_phase_order)
    return {k: _mean((r.get(field) or {}).get(k, 0.0) for r in rows) for k in keys}


def energy_j(row: dict[str, Any], watts: float | None, workers: int = 1) -> float | None:
    """The energy charged to a task: recorded when it finished (the power of that session), else
    `watts` x wall time / workers; None when neither is known."""
    if row.get("energy_j") is not None:
        return float(row["energy_j"])
    if watts is None:
        return None
    return float(watts) * float(row.get("wall_s", 0.0)) / max(1, workers)


def breakdown(rows: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Pass rate per value of metadata[key] (e.g. platform, difficulty); {} if no row has it."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        value = (r.get("metadata") or {}).get(key)
        if value not in (None, ""):
            groups.setdefault(str(value), []).append(r)
    out = {}
    for value, rs in sorted(groups.items()):
        solved = sum(1 for r in rs if r.get("passed"))
        out[value] = {"n": len(rs), "solved": solved, "pass_rate": solved / len(rs)}
    return out


def summarize(rows: Sequence[dict[str, Any]], *, watts: float | None = None, workers: int = 1) -> dict[str, Any]:
    """One run's numbers. `watts`: the power used for the energy estimate (None: no energy)."""
    n = len(rows)
    if n == 0:
        return {"n_tasks": 0, "metric": "pass@1", "pass_at_1": None}
    solved = sum(1 for r in rows if r.get("passed"))
    tokens = [int(r.get("tokens", 0)) for r in rows]
    wall = [float(r.get("wall_s", 0.0)) for r in rows]
    out: dict[str, Any] = {
        "n_tasks": n, "metric": metric_name(rows), "solved": solved, "pass_at_1": solved / n,
        "candidates_per_task": {"mean": _mean(int(r.get("n_candidates") or 1) for r in rows),
                                "max": max(int(r.get("n_candidates") or 1) for r in rows)},
        "tokens": {"total": sum(tokens), "per_task": _mean(tokens)},
        "wall_s": {"total": sum(wall), "per_task": _mean(wall)},
        "sandbox_s_per_task": _mean(float(r.get("sandbox_s", 0.0)) for r in rows),
        # rows of older runs lack the split: only rows that have it count
        "model_s_per_task": _mean(float(r["model_s"]) for r in rows if "model_s" in r) if any("model_s" in r for r in rows) else None,
        "other_s_per_task": _mean(float(r["other_s"]) for r in rows if "other_s" in r) if any("other_s" in r for r in rows) else None,
        "grade_s_per_task": _mean(float(r.get("grade_s", 0.0)) for r in rows),
        "phase_s_per_task": _per_key_mean(rows, "phase_s"),
        "phase_tokens_per_task": _per_key_mean(rows, "phase_tokens"),
        "solved_by": dict(Counter(r.get("solved_by") for r in rows if r.get("passed") and r.get("solved_by"))),
        "stopped_early": sum(1 for r in rows if r.get("stopped_early")),
        # what stopping early cost: the early stops the hidden tests then failed
        "stopped_early_failed": sum(1 for r in rows if r.get("stopped_early") and not r.get("passed")),
        "grades": dict(Counter(str(r.get("grade")) for r in rows)),
    }
    if all(r.get("n_samples") for r in rows):
        counts = [(int(r["n_samples"]), int(r["n_correct"])) for r in rows]
        n_min = min(c[0] for c in counts)
        ks = sorted({k for k in PASSK_KS if k <= n_min} | {n_min})
        out["samples_per_task"] = n_min
        out["pass_at_k"] = {f"pass@{k}": v for k, v in mean_pass_at_k(counts, ks=ks).items()}
        out["pass_at_1"] = out["pass_at_k"]["pass@1"]  # the unbiased estimate, not "any sample passed"
        out["any_sample_passed"] = solved
        out["temperature"] = rows[0].get("temperature")
    joules = [energy_j(r, watts, workers) for r in rows]
    if all(j is not None for j in joules):
        out["energy_j"] = {"total": sum(joules), "per_task": _mean(joules),
                           "watts": sorted({float(w) for w in (r.get("power_w", watts) for r in rows) if w is not None})}
    out["cost_per_solved"] = cost_per_solved(rows, watts=watts, workers=workers)
    for key in ("platform", "difficulty", "domain"):
        b = breakdown(rows, key)
        if b:
            out[f"by_{key}"] = b
    return out


def cost_per_solved(rows: Sequence[dict[str, Any]], *, watts: float | None = None, workers: int = 1) -> dict[str, Any]:
    """Everything spent on all tasks (solved or not) divided by the tasks solved."""
    solved = sum(1 for r in rows if r.get("passed"))
    if not solved:
        return {"solved": 0, "tokens": None, "seconds": None, "joules": None}
    tokens = sum(int(r.get("tokens", 0)) for r in rows)
    secs = sum(float(r.get("wall_s", 0.0)) for r in rows)
    each = [energy_j(r, watts, workers) for r in rows]
    joules = sum(each) if all(j is not None for j in each) else None
    return {"solved": solved, "tokens": tokens / solved, "seconds": secs / solved,
            "joules": joules / solved if joules is not None else None}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = 10000, seed: int = 0,
                     level: float = 0.95) -> dict[str, Any]:
    """Mean of b - a over paired tasks, with a percentile bootstrap CI (tasks resampled with replacement)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    if not a:
        return {"n": 0, "diff": None, "ci95": [None, None], "gained": 0, "lost": 0}
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    boots = d[idx].mean(axis=1)
    lo, hi = np.quantile(boots, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"n": int(len(d)), "diff": float(d.mean()), "ci95": [float(lo), float(hi)],
            "gained": int((d > 0).sum()), "lost": int((d < 0).sum())}


def paired_diff(base: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """`other` minus `base` on the tasks both finished (pass/fail, or c/n for sampled rows)."""
    from atlas_kernel.bench.task_progress import row_score

    b = {r["task_id"]: row_score(r) for r in base}
    o = {r["task_id"]: row_score(r) for r in other}
    common = [t for t in b if t in o]
    return paired_bootstrap([b[t] for t in common], [o[t] for t in common], **kw)
