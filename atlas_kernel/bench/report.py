"""Reports from stored results (no model): report.md, report.json and plots/*.png in a run directory.

`atlas bench report DIR` calls `write_report(DIR)`; a run writes it at its end. For an ablation
directory the report compares the conditions on the tasks every condition finished:

* pass rate per condition (metric named pass@1 or pass@1-v(k), see `metrics`);
* paired differences vs A with bootstrap 95% CIs;
* a waterfall of phase contributions: A, + generate & select (B - A), + lens & S* (C - B),
  + repair (D - B), and what E adds beyond those (interactions, the router): E - (A + the steps);
* rescue counts: which phase produced the chosen passing candidate, overall and on the tasks
  A failed;
* cost per solved task: tokens, seconds, joules.
Plots use matplotlib's Agg canvas directly (no pyplot, so a notebook's backend is untouched);
without matplotlib the report is written without them and says so.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from atlas_kernel.bench.metrics import ORIGINS, paired_diff, summarize
from atlas_kernel.bench.rundir import RESULTS_FILE, read_results
from atlas_kernel.bench.rundir import write_json as _write_json
from atlas_kernel.errors import AtlasError

WATERFALL_STEPS = (("B", "A", "+ generate & select (B-A)"), ("C", "B", "+ lens & S* (C-B)"), ("D", "B", "+ repair (D-B)"))


def load_run(directory: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    d = Path(directory)
    run_file = d / "run.json"
    if not run_file.exists():
        raise AtlasError(f"{d} is not a benchmark run directory (no run.json) — give the --out directory of `atlas bench`")
    try:
        meta = json.loads(run_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AtlasError(f"{run_file} is not valid JSON ({exc.msg})") from None
    done = read_results(d / RESULTS_FILE)
    return meta, [done[t] for t in meta.get("tasks", []) if t in done]


def _watts_workers(meta: dict[str, Any]) -> tuple[float | None, int]:
    sessions = meta.get("sessions") or [{}]
    last = sessions[-1]
    return (last.get("power") or {}).get("watts"), int(last.get("workers") or 1)


def _fmt(x: Any, spec: str = ".3f") -> str:
    if x is None:
        return "-"
    return format(x, spec) if isinstance(x, (int, float)) else str(x)


# -- single runs ------------------------------------------------------------------------------
def build_run_report(directory: str | Path) -> dict[str, Any]:
    meta, rows = load_run(directory)
    watts, workers = _watts_workers(meta)
    return {"kind": "bench", "dir": str(directory), "suite": meta.get("suite"), "mode": meta.get("mode"),
            "condition": meta.get("condition"), "model": meta.get("model"), "seed": meta.get("seed"),
            "atlas_kernel": meta.get("atlas_kernel"), "n_selected": len(meta.get("tasks", [])), "n_finished": len(rows),
            "summary": summarize(rows, watts=watts, workers=workers), "power": (meta.get("sessions") or [{}])[-1].get("power"),
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _run_markdown(rep: dict[str, Any]) -> str:
    s, m = rep["summary"], rep.get("model") or {}
    what = f"condition {rep['condition']}" if rep.get("condition") else f"plain sampling ({s.get('samples_per_task')} samples/task, T={s.get('temperature')})"
    lines = [f"# Benchmark: {rep['suite']}, {what}", "",
             f"Model `{m.get('spec')}` ({m.get('kind')}, sha256 `{(m.get('sha256') or '-')[:16]}`), seed {rep.get('seed')}, "
             f"atlas_kernel {rep.get('atlas_kernel')}. {rep['n_finished']}/{rep['n_selected']} tasks finished.", ""]
    if not rep["n_finished"]:
        return "\n".join(lines + ["No finished tasks yet."]) + "\n"
    lines += ["| metric | value |", "|---|---|",
              f"| {s['metric']} | {s['pass_at_1']:.3f} ({s['solved']}/{s['n_tasks']} solved) |" if "pass_at_k" not in s else
              f"| solved by any sample | {s['solved']}/{s['n_tasks']} |"]
    for k, v in (s.get("pass_at_k") or {}).items():
        lines.append(f"| {k} (unbiased) | {v:.3f} |")
    lines += [f"| candidates per task (mean / max) | {s['candidates_per_task']['mean']:.2f} / {s['candidates_per_task']['max']} |",
              f"| generated tokens per task | {s['tokens']['per_task']:.1f} |",
              f"| wall seconds per task (solve) | {s['wall_s']['per_task']:.2f} |",
              f"| grading seconds per task | {s['grade_s_per_task']:.2f} |"]
    if s.get("energy_j"):
        lines.append(f"| energy per task (J) | {s['energy_j']['per_task']:.1f} (power {', '.join(f'{w:g}' for w in s['energy_j']['watts'])} W) |")
    c = s["cost_per_solved"]
    lines.append(f"| per solved task | {_fmt(c['tokens'], '.0f')} tokens, {_fmt(c['seconds'], '.1f')} s, {_fmt(c['joules'], '.0f')} J |")
    if s.get("solved_by"):
        lines.append("| solved by (phase of chosen candidate) | " + ", ".join(f"{k}: {v}" for k, v in sorted(s["solved_by"].items())) + " |")
    if s["phase_s_per_task"]:
        lines += ["", "## Per phase (mean per task)", "", "| phase | seconds | tokens |", "|---|---|---|"]
        for p, sec in s["phase_s_per_task"].items():
            lines.append(f"| {p} | {sec:.2f} | {s['phase_tokens_per_task'].get(p, 0):.1f} |")
    for key in ("platform", "difficulty", "domain"):
        b = s.get(f"by_{key}")
        if b:
            lines += ["", f"## By {key}", "", f"| {key} | tasks | solved | pass rate |", "|---|---|---|---|"]
            lines += [f"| {v} | {g['n']} | {g['solved']} | {g['pass_rate']:.3f} |" for v, g in b.items()]
    if rep.get("power"):
        lines += ["", f"Energy: {rep['power'].get('source')}; each task is charged power x its wall time / workers in parallel."]
    return "\n".join(lines) + "\n"


# -- ablations --------------------------------------------------------------------------------
def build_ablation_report(directory: str | Path) -> dict[str, Any]:
    d = Path(directory)
    meta, _ = load_run(d)
    conds = list(meta.get("conditions") or [])
    per: dict[str, list[dict[str, Any]]] = {}
    summaries: dict[str, Any] = {}
    for c in conds:
        if not (d / c / "run.json").exists():
            per[c] = []
            continue
        cmeta, rows = load_run(d / c)
        per[c] = rows
        watts, workers = _watts_workers(cmeta)
        summaries[c] = summarize(rows, watts=watts, workers=workers)
    # an ablation under way: arms not started yet (no rows) are listed, and the others are compared
    # on the tasks every started arm has finished
    started = [c for c in conds if per[c]]
    done_by = {c: {r["task_id"] for r in per[c]} for c in started}
    common = [t for t in meta.get("tasks", []) if started and all(t in done_by[c] for c in started)]
    on_common = {c: [r for r in per[c] if r["task_id"] in set(common)] for c in conds}
    rates = {c: (sum(1 for r in rows if r.get("passed")) / len(rows) if rows else None) for c, rows in on_common.items()}
    paired = {c: paired_diff(on_common["A"], on_common[c], seed=int(meta.get("seed") or 0))
              for c in started if c != "A" and "A" in started}
    a_passed = {r["task_id"]: bool(r.get("passed")) for r in on_common.get("A", [])}
    rescues = {}
    for c in conds:
        rows = on_common[c]
        rescues[c] = {"by_phase": dict(Counter(r.get("solved_by") or "?" for r in rows if r.get("passed"))),
                      "rescued_vs_A": dict(Counter(r.get("solved_by") or "?" for r in rows
                                                   if r.get("passed") and a_passed.get(r["task_id"]) is False)) if "A" in conds else {}}
    early = {c: {"stopped": summaries[c]["stopped_early"], "failed": summaries[c]["stopped_early_failed"]} for c in started}
    return {"kind": "ablation", "dir": str(d), "suite": meta.get("suite"), "model": meta.get("model"), "seed": meta.get("seed"),
            "atlas_kernel": meta.get("atlas_kernel"), "conditions": conds, "n_selected": len(meta.get("tasks", [])),
            "not_started": [c for c in conds if c not in started],
            "n_common": len(common), "pass_rate_on_common": rates, "summaries": summaries, "paired_vs_A": paired,
            "waterfall": waterfall(rates), "rescues": rescues, "early_stops": early,
            "cost_per_solved": {c: summaries[c]["cost_per_solved"] for c in started},
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S")}


def waterfall(rates: dict[str, float | None]) -> list[dict[str, Any]]:
    """Steps from A to E; each step's delta and the running total (they add up to E)."""
    have = {c: v for c, v in rates.items() if v is not None}
    if "A" not in have:
        return []
    steps = [{"step": "A single shot", "delta": have["A"], "cumulative": have["A"]}]
    total = have["A"]
    for cond, ref, name in WATERFALL_STEPS:
        if cond in have and ref in have:
            delta = have[cond] - have[ref]
            total += delta
            steps.append({"step": name, "delta": delta, "cumulative": total})
    if "E" in have:
        steps.append({"step": "E beyond the steps (interactions, router)", "delta": have["E"] - total, "cumulative": have["E"]})
    return steps


def _early(rep: dict[str, Any], cond: str) -> str:
    e = (rep.get("early_stops") or {}).get(cond)  # reports written before the count have none
    return f"{e['stopped']} ({e['failed']})" if e else "-"


def _ablation_markdown(rep: dict[str, Any]) -> str:
    m = rep.get("model") or {}
    lines = [f"# Ablation: {rep['suite']}, conditions {', '.join(rep['conditions'])}", "",
             f"Model `{m.get('spec')}` ({m.get('kind')}, sha256 `{(m.get('sha256') or '-')[:16]}`), seed {rep.get('seed')} "
             f"(the same for every condition), atlas_kernel {rep.get('atlas_kernel')}. "
             f"{rep['n_common']}/{rep['n_selected']} tasks finished by every condition that has started; comparisons "
             f"use those." + (f" Not started yet: {', '.join(rep['not_started'])}." if rep.get("not_started") else ""), "",
             "## Pass rate per condition", "", "| condition | metric | solved | pass rate | tokens/task | s/task | J/task | probe stopped early (then failed) |",
             "|---|---|---|---|---|---|---|---|"]
    for c in rep["conditions"]:
        s = rep["summaries"].get(c)
        if not s or not s.get("n_tasks"):
            lines.append(f"| {c} | - | - | - | - | - | - | - |")
            continue
        lines.append(f"| {c} | {s['metric']} | {s['solved']}/{s['n_tasks']} | {_fmt(rep['pass_rate_on_common'].get(c))} | "
                     f"{s['tokens']['per_task']:.0f} | {s['wall_s']['per_task']:.1f} | {_fmt((s.get('energy_j') or {}).get('per_task'), '.0f')} | {_early(rep, c)} |")
    if rep["paired_vs_A"]:
        lines += ["", "## Paired difference vs A (bootstrap 95% CI over tasks)", "",
                  "| condition | diff in pass rate | 95% CI | tasks gained | tasks lost | n |", "|---|---|---|---|---|---|"]
        for c, p in rep["paired_vs_A"].items():
            lines.append(f"| {c} | {_fmt(p['diff'], '+.3f')} | [{_fmt(p['ci95'][0], '+.3f')}, {_fmt(p['ci95'][1], '+.3f')}] | "
                         f"{p['gained']} | {p['lost']} | {p['n']} |")
    if rep["waterfall"]:
        lines += ["", "## Phase contributions (waterfall)", "", "| step | delta | cumulative |", "|---|---|---|"]
        lines += [f"| {s['step']} | {s['delta']:+.3f} | {s['cumulative']:.3f} |" for s in rep["waterfall"]]
    lines += ["", "## Rescues: the phase that produced the chosen passing candidate", "",
              "| condition | " + " | ".join(ORIGINS[:4]) + " | rescued vs A (tasks A failed) |", "|---|---|---|---|---|---|"]
    for c in rep["conditions"]:
        r = rep["rescues"][c]
        rescued = ", ".join(f"{k}: {v}" for k, v in sorted(r["rescued_vs_A"].items())) or "-"
        lines.append(f"| {c} | " + " | ".join(str(r["by_phase"].get(o, 0)) for o in ORIGINS[:4]) + f" | {rescued} |")
    lines += ["", "## Cost per solved task (all spending / tasks solved)", "", "| condition | tokens | seconds | joules |", "|---|---|---|---|"]
    for c, cost in rep["cost_per_solved"].items():
        lines.append(f"| {c} | {_fmt(cost['tokens'], '.0f')} | {_fmt(cost['seconds'], '.1f')} | {_fmt(cost['joules'], '.0f')} |")
    return "\n".join(lines) + "\n"


# -- plots ------------------------------------------------------------------------------------
def _figure(w: float = 6.0, h: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(111)


def _save(fig: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.tight_layout()
    fig.savefig(tmp)
    tmp.replace(path)
    return str(path.relative_to(path.parent.parent))


def _ablation_plots(rep: dict[str, Any], plots: Path) -> list[str]:
    out = []
    conds = [c for c in rep["conditions"] if rep["pass_rate_on_common"].get(c) is not None]
    if not conds:
        return out
    fig, ax = _figure()
    vals = [rep["pass_rate_on_common"][c] for c in conds]
    ax.bar(conds, vals, color="#4c72b0")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("pass rate (final answer)")
    ax.set_title(f"Pass rate per condition ({rep['n_common']} tasks)")
    ax.set_ylim(0, max(1e-9, max(vals)) * 1.2)
    out.append(_save(fig, plots / "pass_rates.png"))
    if rep["paired_vs_A"]:
        fig, ax = _figure()
        cs = list(rep["paired_vs_A"])
        diffs = [rep["paired_vs_A"][c]["diff"] or 0.0 for c in cs]
        lo = [d - (rep["paired_vs_A"][c]["ci95"][0] or 0.0) for c, d in zip(cs, diffs)]
        hi = [(rep["paired_vs_A"][c]["ci95"][1] or 0.0) - d for c, d in zip(cs, diffs)]
        ax.errorbar(cs, diffs, yerr=[lo, hi], fmt="o", capsize=5, color="#dd8452")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("pass rate minus A")
        ax.set_title("Paired difference vs A, bootstrap 95% CI")
        out.append(_save(fig, plots / "paired_vs_A.png"))
    if rep["waterfall"]:
        fig, ax = _figure(7.0, 3.8)
        steps = rep["waterfall"]
        bottoms = [0.0] + [s["cumulative"] - s["delta"] for s in steps[1:]]
        colors = ["#4c72b0"] + ["#55a868" if s["delta"] >= 0 else "#c44e52" for s in steps[1:]]
        labels = [s["step"].replace(" (", "\n(") for s in steps]
        ax.bar(range(len(steps)), [s["delta"] for s in steps], bottom=bottoms, color=colors)
        for i, s in enumerate(steps):
            ax.text(i, max(s["cumulative"], s["cumulative"] - s["delta"]), f"{s['delta']:+.2f}" if i else f"{s['delta']:.2f}",
                    ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(steps)), labels, fontsize=7)
        ax.set_ylabel("pass rate")
        ax.set_title("Phase contributions A -> B -> C/D -> E")
        out.append(_save(fig, plots / "waterfall.png"))
    fig, ax = _figure()
    bottom = [0] * len(conds)
    for origin, color in zip(ORIGINS[:4] + ("?",), ("#4c72b0", "#55a868", "#8172b2", "#dd8452", "#999999")):
        vals = [rep["rescues"][c]["by_phase"].get(origin, 0) for c in conds]
        if any(vals):
            ax.bar(conds, vals, bottom=bottom, label=origin, color=color)
            bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("tasks solved")
    ax.set_title("Phase that produced the chosen passing candidate")
    if any(bottom):
        ax.legend(fontsize=8)
    out.append(_save(fig, plots / "rescues.png"))
    costs = {c: rep["cost_per_solved"][c] for c in conds if c in rep["cost_per_solved"]}
    if costs:
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=(9.0, 3.2), dpi=110)
        FigureCanvasAgg(fig)
        for i, (key, unit) in enumerate((("tokens", "tokens"), ("seconds", "s"), ("joules", "J"))):
            ax = fig.add_subplot(1, 3, i + 1)
            ax.bar(list(costs), [costs[c][key] or 0.0 for c in costs], color="#8172b2")
            ax.set_title(f"{unit} per solved task", fontsize=9)
        out.append(_save(fig, plots / "cost.png"))
    return out


def _run_plots(rep: dict[str, Any], plots: Path) -> list[str]:
    s = rep["summary"]
    out = []
    if s.get("phase_s_per_task"):
        fig, ax = _figure()
        phases = list(s["phase_s_per_task"])
        ax.barh(phases, [s["phase_s_per_task"][p] for p in phases], color="#4c72b0")
        ax.invert_yaxis()
        ax.set_xlabel("seconds per task (mean)")
        ax.set_title("Time per phase")
        out.append(_save(fig, plots / "phase_time.png"))
    if s.get("pass_at_k"):
        fig, ax = _figure()
        ks = [int(k.split("@")[1]) for k in s["pass_at_k"]]
        ax.plot(ks, list(s["pass_at_k"].values()), marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k (unbiased)")
        ax.set_title(f"pass@k from {s['samples_per_task']} samples per task")
        out.append(_save(fig, plots / "pass_at_k.png"))
    return out


# -- entry point ------------------------------------------------------------------------------
def build_report(directory: str | Path) -> dict[str, Any]:
    meta, _ = load_run(directory)
    return build_ablation_report(directory) if meta.get("kind") == "ablation" else build_run_report(directory)


def write_report(directory: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Write report.json, report.md and plots/ into the run directory; return the report."""
    d = Path(directory)
    rep = build_report(d)
    md = _ablation_markdown(rep) if rep["kind"] == "ablation" else _run_markdown(rep)
    rep["plots"] = []
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            rep["plots_note"] = "matplotlib is not installed: no plots (pip install matplotlib)"
        else:
            made = rep["kind"] == "ablation" and rep["n_common"] > 0
            rep["plots"] = _ablation_plots(rep, d / "plots") if made else (_run_plots(rep, d / "plots") if rep["kind"] == "bench" and rep["n_finished"] else [])
    if rep["plots"]:
        md += "\n## Plots\n\n" + "\n".join(f"![{Path(p).stem}]({p})" for p in rep["plots"]) + "\n"
    elif rep.get("plots_note"):
        md += f"\n{rep['plots_note']}\n"
    _write_json(d / "report.json", rep)
    tmp = d / "report.md.tmp"
    tmp.write_text(md, encoding="utf-8")
    tmp.replace(d / "report.md")
    rep["markdown"] = md
    return rep
