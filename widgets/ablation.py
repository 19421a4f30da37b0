"""Ablation results for notebooks: load the benchmark's stored rows (or run a tiny live ablation),
summarise per condition, render a table. Plots are in `plots.ablation_figure` /
`plots.phase_times_figure`. No ipywidgets needed.

Stored layout (written by benchmark/bench_pipeline.py):
    benchmark/results/pipeline/<model>_<condition>/results.jsonl   one JSON row per graded task
    benchmark/results/pipeline_<model>.json                         its summary (when the run finished)
A run still in progress has rows but no summary; the summary here is always recomputed from rows.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from atlas_kernel.widgets import _html as H


def find_repo_root(start: str | Path | None = None) -> Path:
    """The directory holding pyproject.toml above `start` (notebooks run from notebooks/)."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").exists() and (p / "benchmark").is_dir():
            return p
    return here


def load_rows(results_dir: str | Path, model: str = "smollm2") -> dict[str, list[dict[str, Any]]]:
    """{condition: rows} from results_dir/pipeline/<model>_<cond>/results.jsonl (torn lines skipped)."""
    root = Path(results_dir) / "pipeline"
    out: dict[str, list[dict[str, Any]]] = {}
    if not root.is_dir():
        return out
    for d in sorted(root.glob(f"{model}_*")):
        f = d / "results.jsonl"
        if not f.exists():
            continue
        rows = []
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write
        if rows:
            out[d.name.split("_", 1)[1]] = rows
    return out


def load_summary(results_dir: str | Path, model: str = "smollm2") -> dict[str, Any] | None:
    f = Path(results_dir) / f"pipeline_{model}.json"
    if not f.exists():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def _bootstrap(values: Sequence[float], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    k = len(values)
    boots = sorted(sum(values[rng.randrange(k)] for _ in range(k)) / k for _ in range(n))
    return boots[int(0.025 * n)], boots[int(0.975 * n) - 1]


def summarize(rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str = "A") -> dict[str, dict[str, Any]]:
    """Per condition: n, solved, pass@1 (+ bootstrap 95% CI), tokens and seconds per task, seconds
    per phase, and the paired difference against `baseline` on the tasks both have."""
    out: dict[str, dict[str, Any]] = {}
    base = {r["task_id"]: int(bool(r["passed"])) for r in rows_by_condition.get(baseline, [])}
    for cond in sorted(rows_by_condition):
        rows = list(rows_by_condition[cond])
        n = len(rows)
        if not n:
            continue
        passed = [float(bool(r["passed"])) for r in rows]
        phases = sorted({p for r in rows for p in (r.get("phase_s") or {})})
        s: dict[str, Any] = {
            "n": n, "solved": int(sum(passed)), "pass_at_1": sum(passed) / n, "ci95": _bootstrap(passed),
            "tokens_per_task": sum(r.get("tokens", 0) for r in rows) / n,
            "wall_s_per_task": sum(r.get("wall_s", 0.0) for r in rows) / n,
            "phase_s_per_task": {p: sum((r.get("phase_s") or {}).get(p, 0.0) for r in rows) / n for p in phases},
            "repair_rescued": sum(1 for r in rows if r["passed"] and r.get("solved_by") == "repair"),
        }
        if cond != baseline and base:
            common = [r for r in rows if r["task_id"] in base]
            if common:
                d = [int(bool(r["passed"])) - base[r["task_id"]] for r in common]
                s["vs_baseline"] = {"n": len(common), "diff": sum(d) / len(d), "ci95": _bootstrap(d),
                                    "gained": sum(1 for x in d if x > 0), "lost": sum(1 for x in d if x < 0)}
        out[cond] = s
    return out


def table_html(summary: Mapping[str, Mapping[str, Any]], baseline: str = "A") -> str:
    rows = []
    for cond, s in summary.items():
        lo, hi = s["ci95"]
        vs = s.get("vs_baseline")
        vs_txt = (f"{vs['diff']:+.3f} [{vs['ci95'][0]:+.3f}, {vs['ci95'][1]:+.3f}] (+{vs['gained']} / −{vs['lost']}, n={vs['n']})"
                  if vs else "–")
        rows.append((f"<b>{H.esc(cond)}</b>", s["n"], s["solved"], f"{s['pass_at_1']:.3f} [{lo:.3f}, {hi:.3f}]",
                     H.esc(vs_txt), f"{s['tokens_per_task']:.0f}", f"{s['wall_s_per_task']:.1f}", s["repair_rescued"]))
    return H.table(["condition", "tasks", "solved", "pass@1 [95% CI]", f"vs {baseline}: Δ pass@1 [95% CI]",
                    "tokens/task", "s/task", "rescued by repair"], rows)


def run_live(conditions: Iterable[str], tasks: Sequence[Any], model: Any, *, overrides: Mapping[str, Any] | None = None,
             style: str | None = None, on_result: Any = None) -> dict[str, list[dict[str, Any]]]:
    """A tiny live ablation: solve each task under each condition with one loaded model, grade
    once with the hidden tests (the grader only ever sees the final code)."""
    from atlas_kernel.bench.runner import RunSpec, solve_and_grade

    out: dict[str, list[dict[str, Any]]] = {}
    for cond in conditions:
        spec = RunSpec("live", cond, getattr(model, "name", None), 0, tuple(sorted((overrides or {}).items())))
        rows = []
        for task in tasks:
            row = solve_and_grade(task, model, spec, style=style)
            rows.append(row)
            if on_result is not None:
                on_result(row)
        out[cond] = rows
    return out
