"""Matplotlib figures of a solve and of benchmark results. Each function returns a `Figure`.

They build `matplotlib.figure.Figure` objects directly (no pyplot state), so they work under the
Agg backend in scripts and tests, inside widgets (rendered to PNG) and in notebooks.

Energy landscape: candidates' embeddings (the model's pooled hidden states of their code) span a
plane -- the first two principal axes of the candidates (`plane="pca"`) or the plane through the
three lowest-energy candidates (`plane="best3"`); the Lens energy is evaluated on a grid over
that plane with `lens.ops.landscape` (compiled CPU kernel, CUDA when given device arrays) and
drawn as filled contours. Candidates are the projections of their embeddings onto the plane,
coloured by their public-example verdict; repairs are arrows from the failed parent to the
repaired candidate. Without a trained lens, `Lens.init(dim, seed)` is used and the title says
"untrained".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

STATUS_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "unverified": "#8c959f"}
PLANES = ("pca", "best3")


def _figure(width: float = 6.4, height: float = 4.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


@dataclass
class Plane:
    center: np.ndarray  # (D,)
    a: np.ndarray  # (D,) unit
    b: np.ndarray  # (D,) unit, orthogonal to a
    coords: np.ndarray  # (N, 2) projections of the points
    kind: str
    note: str


def _orthonormal_fill(vectors: list[np.ndarray], dim: int, seed: int) -> list[np.ndarray]:
    """Complete `vectors` (already orthonormal) to two, with seeded random directions."""
    rng = np.random.default_rng(seed)
    out = list(vectors)
    while len(out) < 2:
        v = rng.standard_normal(dim)
        for u in out:
            v -= (v @ u) * u
        n = np.linalg.norm(v)
        if n > 1e-8:
            out.append(v / n)
    return out


def _gram_schmidt(vs: Iterable[np.ndarray], tol: float = 1e-6) -> list[np.ndarray]:
    basis: list[np.ndarray] = []
    for v in vs:
        w = np.asarray(v, dtype=np.float64).copy()
        scale = np.linalg.norm(w)
        for u in basis:
            w -= (w @ u) * u
        n = np.linalg.norm(w)
        if n > tol * max(scale, 1e-12):
            basis.append(w / n)
        if len(basis) == 2:
            break
    return basis


def make_plane(emb: Any, plane: str = "pca", energies: Sequence[float] | None = None, seed: int = 0) -> Plane:
    """The 2-D plane the landscape is drawn on, and every point's coordinates in it."""
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"embeddings must be (N, D) with N >= 1, got shape {x.shape}")
    n, dim = x.shape
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    if plane == "best3" and n >= 3:
        order = list(np.argsort(np.asarray(energies))) if energies is not None else list(range(n))
        # three distinct programs: identical code has identical embeddings and spans nothing
        picks: list[int] = []
        for i in order:
            if all(np.linalg.norm(x[i] - x[j]) > 1e-9 for j in picks):
                picks.append(int(i))
            if len(picks) == 3:
                break
        if len(picks) == 3:
            center = x[picks[0]]
            basis = _gram_schmidt([x[picks[1]] - center, x[picks[2]] - center])
            if len(basis) == 2:
                note = "plane through " + ("the three lowest-energy" if energies is not None else "three") + " candidates"
                return Plane(center, basis[0], basis[1], np.stack([(x - center) @ basis[0], (x - center) @ basis[1]], 1),
                             "best3", note)
        # fewer than three distinct points: fall through to PCA
    center = x.mean(axis=0)
    xc = x - center
    basis: list[np.ndarray] = []
    if n >= 2:
        _, sv, vt = np.linalg.svd(xc, full_matrices=False)
        basis = [vt[i] for i in range(min(2, len(sv))) if sv[i] > 1e-9 * max(sv[0], 1e-12)]
    filled = len(basis) < 2
    basis = _orthonormal_fill(basis, dim, seed)
    note = f"PCA of {n} candidate{'s' if n != 1 else ''}" + (" (completed with a random direction)" if filled else "")
    return Plane(center, basis[0], basis[1], np.stack([xc @ basis[0], xc @ basis[1]], 1), "pca", note)


def _extent(coords: np.ndarray, scale: float, margin: float = 0.35) -> tuple[float, float, float, float]:
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.maximum(hi - lo, 0.0)
    # keep the view roughly square: an axis along which the points barely spread (e.g. a
    # random completing direction) still shows the energy changing across it
    span = np.maximum(span, 0.5 * span.max())
    lo, hi = (lo + hi) / 2 - span / 2, (lo + hi) / 2 + span / 2
    pad = np.maximum(span * margin, 0.15 * max(scale, 1e-6))
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def lens_label(lens: Any) -> str:
    info = getattr(lens, "info", {}) or {}
    if "init" in info:
        return f"untrained lens (seed {info.get('seed', '?')})"
    return f"lens {lens.model_id}" if getattr(lens, "model_id", None) else "trained lens"


def landscape_figure(emb: Any, lens: Any, *, labels: Sequence[str] | None = None,
                     status: Sequence[str] | None = None, repairs: Sequence[tuple[str, str]] = (),
                     chosen: str | None = None, plane: str = "pca", resolution: int = 41,
                     backend: str = "auto", seed: int = 0, title: str | None = None,
                     energies: Sequence[float] | None = None, size: tuple[float, float] = (6.4, 4.8)):
    """Energy contours over a plane through the embeddings, candidates as coloured points.

    emb (N, D); labels/status per row (status: passed | failed | unverified); repairs are
    (parent label, child label) pairs drawn as arrows. `energies` (lens energies at the actual
    points) choose the `best3` plane; computed with the lens when not given.
    """
    from atlas_kernel.lens import ops

    x = np.ascontiguousarray(np.asarray(emb, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    if x.shape[1] != lens.dim:
        raise ValueError(f"the lens takes {lens.dim}-d embeddings but these are {x.shape[1]}-d "
                         "(use a lens trained on this model's embeddings, or Lens.init(dim))")
    n = x.shape[0]
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    status = list(status) if status is not None else ["unverified"] * n
    resolution = int(max(5, min(resolution, 401)))
    point_e = np.asarray(ops.energy(x, lens, backend=backend), dtype=np.float64) if energies is None else np.asarray(energies)
    pl = make_plane(x, plane, energies=point_e, seed=seed)
    scale = float(np.median(np.linalg.norm(x - pl.center, axis=1))) if n > 1 else float(np.linalg.norm(x[0])) * 0.1
    x0, x1, y0, y1 = _extent(pl.coords, scale)
    s = np.linspace(x0, x1, resolution, dtype=np.float32)
    t = np.linspace(y0, y1, resolution, dtype=np.float32)
    grid = np.asarray(ops.landscape(lens, pl.center.astype(np.float32), pl.a.astype(np.float32),
                                    pl.b.astype(np.float32), s, t, backend=backend), dtype=np.float64)

    fig = _figure(*size)
    ax = fig.add_subplot(1, 1, 1)
    cs = ax.contourf(s, t, grid.T, levels=14, cmap="viridis")
    ax.contour(s, t, grid.T, levels=14, colors="k", linewidths=0.3, alpha=0.4)
    fig.colorbar(cs, ax=ax, label="energy on the plane (low = likely correct)")
    pos = {lab: pl.coords[i] for i, lab in enumerate(labels)}
    for parent, child in repairs:
        if parent in pos and child in pos and parent != child:
            ax.annotate("", xy=pos[child], xytext=pos[parent],
                        arrowprops=dict(arrowstyle="-|>", color="white", lw=1.6, shrinkA=6, shrinkB=6))
    for kind, colour in STATUS_COLOURS.items():
        idx = [i for i in range(n) if status[i] == kind]
        if idx:
            ax.scatter(pl.coords[idx, 0], pl.coords[idx, 1], c=colour, s=60, edgecolors="white", linewidths=1.2,
                       zorder=3, label={"passed": "passes public examples", "failed": "fails public examples",
                                        "unverified": "not run yet"}[kind])
    if chosen in pos:
        ax.scatter([pos[chosen][0]], [pos[chosen][1]], s=260, facecolors="none", edgecolors="gold", linewidths=2.2,
                   zorder=4, label="chosen")
    # identical programs share a point: label each point once with all its names
    by_point: dict[tuple[float, float], list[str]] = {}
    for i, lab in enumerate(labels):
        by_point.setdefault((round(float(pl.coords[i, 0]), 6), round(float(pl.coords[i, 1]), 6)), []).append(lab)
    for (px, py), names in by_point.items():
        ax.annotate(", ".join(names), (px, py), xytext=(6, 5), textcoords="offset points", fontsize=8, color="white",
                    zorder=5)
    if repairs and any(p in pos and c in pos for p, c in repairs):
        ax.plot([], [], color="#444", lw=1.6, marker=">", markevery=[1], label="repair: parent → child")
    ax.set_facecolor("#222")
    leg = ax.legend(loc="best", fontsize=7, framealpha=0.8, markerscale=0.6)
    leg.set_zorder(6)
    ax.set_xlabel("plane axis 1")
    ax.set_ylabel("plane axis 2")
    ax.set_title(title or f"Energy landscape — {lens_label(lens)}\n{pl.note}, {resolution}×{resolution} grid",
                 fontsize=10)
    fig.atlas_plane = pl  # the plane, for callers that want the numbers (tests, notebooks)
    fig.atlas_grid = grid
    return fig


def landscape_for(source: Any, model: Any = None, lens: Any = None, *, embeddings: Any = None, plane: str = "pca",
                  resolution: int = 41, backend: str = "auto", seed: int = 0, title: str | None = None,
                  size: tuple[float, float] = (6.4, 4.8)):
    """The landscape of a run (PipelineRun, Trace, Solution or RunView).

    Needs the candidates' embeddings: pass `embeddings` (N, D) in candidate order, or the
    `model` whose `embed` computes them. Without `lens`, an untrained `Lens.init(D, seed)`.
    """
    from atlas_kernel.widgets._data import RunView

    view = RunView.of(source)
    cands = view.candidates
    if not cands:
        raise ValueError("the run has no candidates yet: step it past the generation phases first")
    if embeddings is None:
        if model is None:
            raise ValueError("landscape_for needs the model (to embed the candidates) or their embeddings")
        embeddings = model.embed([c.code for c in cands])
    emb = np.asarray(embeddings, dtype=np.float32)
    if lens is None:
        from atlas_kernel.lens import Lens

        lens = Lens.init(emb.shape[1], seed=seed)
    return landscape_figure(emb, lens, labels=[c.id for c in cands], status=[view.status(c) for c in cands],
                            repairs=view.repairs(), chosen=view.chosen, plane=plane, resolution=resolution,
                            backend=backend, seed=seed, title=title, size=size)


def candidates_figure(source: Any, size: tuple[float, float] = (6.4, 3.2)):
    """Per-candidate bars: public examples passed and kept self-tests passed; energy as text."""
    from atlas_kernel.widgets._data import RunView

    view = RunView.of(source)
    fig = _figure(*size)
    ax = fig.add_subplot(1, 1, 1)
    cands = view.candidates
    ids = [c.id for c in cands]
    xs = np.arange(len(cands))
    ax.bar(xs - 0.2, [c.public_passed for c in cands], 0.4, label="public passed",
           color=[STATUS_COLOURS[view.status(c)] for c in cands])
    ax.bar(xs + 0.2, [view.self_passed(c) for c in cands], 0.4, label="self-tests passed", color="#0969da")
    for i, c in enumerate(cands):
        if c.energy is not None:
            ax.annotate(f"E={c.energy:.2f}", (i, 0), xytext=(0, -24), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(xs, ids, rotation=30, fontsize=8)
    ax.set_ylabel("tests passed")
    ax.legend(fontsize=8)
    ax.set_title(f"{len(cands)} candidates", fontsize=10)
    return fig


def phase_times_figure(phase_s: Mapping[str, Mapping[str, float]], size: tuple[float, float] = (6.4, 3.2)):
    """Stacked seconds per phase, one bar per condition: {condition: {phase: seconds}}."""
    fig = _figure(*size)
    ax = fig.add_subplot(1, 1, 1)
    conds = list(phase_s)
    phases = sorted({p for d in phase_s.values() for p in d})
    bottom = np.zeros(len(conds))
    cmap = __import__("matplotlib").colormaps["tab20"]
    for i, p in enumerate(phases):
        vals = np.array([phase_s[c].get(p, 0.0) for c in conds])
        if vals.sum() <= 0:
            continue
        ax.bar(conds, vals, bottom=bottom, label=p, color=cmap(i % 20))
        bottom += vals
    ax.set_ylabel("seconds per task")
    ax.set_title("Where the time goes", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return fig


def ablation_figure(summary: Mapping[str, Mapping[str, Any]], size: tuple[float, float] = (9.0, 3.2)):
    """pass@1, tokens and seconds per task by condition: {condition: {pass_at_1, tokens_per_task,
    wall_s_per_task, n, ci95?}} (ci95 = (lo, hi) of pass@1, drawn as an error bar)."""
    fig = _figure(*size)
    conds = list(summary)
    panels = (("pass_at_1", "pass@1"), ("tokens_per_task", "tokens / task"), ("wall_s_per_task", "seconds / task"))
    for k, (key, label) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        vals = [float(summary[c].get(key) or 0.0) for c in conds]
        bars = ax.bar(conds, vals, color=["#8c959f" if c == "A" else "#0969da" for c in conds])
        if key == "pass_at_1":
            lo_hi = [summary[c].get("ci95") for c in conds]
            if any(lo_hi):
                err = np.array([[v - (ci[0] if ci else v) for v, ci in zip(vals, lo_hi)],
                                [(ci[1] if ci else v) - v for v, ci in zip(vals, lo_hi)]])
                ax.errorbar(conds, vals, yerr=np.clip(err, 0, None), fmt="none", ecolor="k", capsize=3)
            ax.set_ylim(0, max(0.05, min(1.0, max(vals) * 1.5 + 0.05)))
            for b, c in zip(bars, conds):
                n = summary[c].get("n")
                if n:
                    ax.annotate(f"n={n}", (b.get_x() + b.get_width() / 2, 0), xytext=(0, 2), textcoords="offset points",
                                ha="center", fontsize=7, color="white")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("condition")
    return fig


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (for ipywidgets.Image and for saving screenshots)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
