"""Ablation results for notebooks: load the benchmark's stored rows (or run a tiny live ablation),
summarise per condition, render a table. Plots are in `plots.ablation_figure` /
`plots.phase_times_figure`. No ipywidgets needed.

Stored layouts:
    an `atlas bench --ablation` directory (`load_ablation`): <dir>/<condition>/run.json + results.jsonl,
        e.g. benchmark/results/pipeline/qwen05_all/ (the A–E campaign)
    benchmark/bench_pipeline.py's older layout (`load_rows`):
        benchmark/results/pipeline/<model>_<condition>/results.jsonl   one JSON row per graded task
        benchmark/results/pipeline_<model>.json                         its summary (when the run finished)
A run still in progress has rows but no summary; the summary here is always recomputed from rows,
with the benchmark's own metrics (`atlas_kernel.bench.metrics`), so it agrees with `atlas bench report`.
"""

from __future__ import annotations

import json
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


def load_ablation(directory: str | Path, common: bool = True) -> dict[str, list[dict[str, Any]]]:
    """{condition: finished rows} of an `atlas bench --ablation` directory, in its task order;
    conditions not started yet are left out. Read as `atlas bench report` reads it: with `common`,
    only the tasks every started condition has finished (an ablation under way compares like with like)."""
    from atlas_kernel.bench.report import load_run

    d = Path(directory)
    meta, _ = load_run(d)  # one clear error when `directory` is not a run directory
    out: dict[str, list[dict[str, Any]]] = {}
    for cond in meta.get("conditions") or []:
        if (d / cond / "run.json").exists():
            rows = load_run(d / cond)[1]
            if rows:
                out[cond] = rows
    if common and out:
        shared = set.intersection(*({r["task_id"] for r in rows} for rows in out.values()))
        out = {c: [r for r in rows if r["task_id"] in shared] for c, rows in out.items()}
    return out


def load_summary(results_dir: str | Path, model: str = "smollm2") -> dict[str, Any] | None:
    f = Path(results_dir) / f"pipeline_{model}.json"
    if not f.exists():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def summarize(rows_by_condition: Mapping[str, Sequence[Mapping[str, Any]]], baseline: str = "A") -> dict[str, dict[str, Any]]:
    """Per condition: n, solved, pass@1 (+ bootstrap 95% CI), tokens and seconds per task, seconds
    per phase, and the paired difference against `baseline` on the tasks both have."""
    from atlas_kernel.bench.metrics import paired_bootstrap, paired_diff
    from atlas_kernel.bench.metrics import summarize as run_summary

    out: dict[str, dict[str, Any]] = {}
    base = [dict(r) for r in rows_by_condition.get(baseline, [])]
    for cond in sorted(rows_by_condition):
        rows = [dict(r) for r in rows_by_condition[cond]]
        if not rows:
            continue
        m = run_summary(rows)
        passed = [float(bool(r.get("passed"))) for r in rows]
        # the pass rate's CI: the same percentile bootstrap as the paired differences, against zero
        lo, hi = paired_bootstrap([0.0] * len(passed), passed, seed=0)["ci95"]
        s: dict[str, Any] = {
            "n": m["n_tasks"], "solved": m["solved"], "pass_at_1": m["pass_at_1"], "ci95": (lo, hi),
            "tokens_per_task": m["tokens"]["per_task"], "wall_s_per_task": m["wall_s"]["per_task"],
            "phase_s_per_task": m["phase_s_per_task"], "stopped_early": m["stopped_early"],
            "repair_rescued": sum(1 for r in rows if r.get("passed") and r.get("solved_by") == "repair"),
        }
        if cond != baseline and base:
            vs = paired_diff(base, rows)
            if vs["n"]:
                s["vs_baseline"] = vs
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
