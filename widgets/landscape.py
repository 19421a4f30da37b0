"""Energy landscape widget: the figure of `plots.landscape_figure` with a resolution slider, a
plane choice (PCA / through the best three) and a backend choice, redrawn on change.

Embeddings are computed once per distinct program (the model's `embed`) and cached, so moving
the slider only re-evaluates the grid (`lens.ops.landscape`, compiled CPU kernel by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from atlas_kernel.widgets import _html as H
from atlas_kernel.widgets._base import require_ipywidgets
from atlas_kernel.widgets._data import RunView

widgets = require_ipywidgets()


def _load_lens(lens: Any) -> Any:
    if lens is None or not isinstance(lens, (str, Path)):
        return lens
    from atlas_kernel.lens import Lens

    return Lens.load(lens)


class EnergyLandscape(widgets.VBox):
    """EnergyLandscape(run_or_trace, model=model, lens=None | Lens | path)."""

    def __init__(self, source: Any = None, model: Any = None, lens: Any = None, *, embeddings: Any = None,
                 resolution: int = 41, plane: str = "pca", backend: str = "auto", seed: int = 0,
                 autodraw: bool = True):
        from atlas_kernel.lens import ops

        self.model = model
        self.lens = _load_lens(lens)
        self.seed = seed
        self.source = source
        self._emb_cache: dict[str, np.ndarray] = {}
        self._given_emb = None if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        self.figure = None
        self.resolution = widgets.IntSlider(value=resolution, min=11, max=121, step=10, description="resolution",
                                            continuous_update=False)
        self.plane = widgets.Dropdown(options=[("PCA of the candidates", "pca"), ("through the best three", "best3")],
                                      value=plane, description="plane")
        choices = ["auto"] + [b for b in ops.backends() if b != "auto"] + ["reference"]
        self.backend = widgets.Dropdown(options=choices, value=backend if backend in choices else "auto",
                                        description="backend")
        self.draw_button = widgets.Button(description="Redraw", icon="refresh")
        self.draw_button.on_click(lambda _b: self.draw())
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="720px"))
        self.note = widgets.HTML(value="")
        for w in (self.resolution, self.plane, self.backend):
            w.observe(lambda _c: self.draw(), names="value")
        super().__init__(children=[widgets.HBox([self.resolution, self.plane]),
                                   widgets.HBox([self.backend, self.draw_button]), self.note, self.image])
        self.add_class("atlas-landscape")
        if source is not None and autodraw:
            self.draw()

    def set_source(self, source: Any, draw: bool = True) -> None:
        self.source = source
        self._given_emb = None
        if draw:
            self.draw()

    def embeddings(self, view: RunView) -> np.ndarray:
        if self._given_emb is not None and len(self._given_emb) == len(view.candidates):
            return self._given_emb
        if self.model is None:
            raise ValueError("pass model= (to embed the candidates) or embeddings=")
        todo = sorted({c.code for c in view.candidates if c.code not in self._emb_cache})
        if todo:
            for code, vec in zip(todo, np.asarray(self.model.embed(todo), dtype=np.float32)):
                self._emb_cache[code] = vec
        return np.stack([self._emb_cache[c.code] for c in view.candidates])

    def draw(self) -> Any:
        """Recompute and show the figure; returns it (None with a note when there is nothing to draw)."""
        from atlas_kernel.widgets import plots

        if self.source is None:
            self.note.value = "<i>nothing to draw yet</i>"
            return None
        view = RunView.of(self.source)
        if not view.candidates:
            self.note.value = "<i>no candidates yet — step past the generation phases</i>"
            self.image.value = b""
            return None
        try:
            emb = self.embeddings(view)
            if self.lens is None:
                from atlas_kernel.lens import Lens

                self.lens = Lens.init(emb.shape[1], seed=self.seed)
            fig = plots.landscape_figure(
                emb, self.lens, labels=[c.id for c in view.candidates], status=[view.status(c) for c in view.candidates],
                repairs=view.repairs(), chosen=view.chosen, plane=self.plane.value, resolution=self.resolution.value,
                backend=self.backend.value, seed=self.seed)
        except (ValueError, RuntimeError) as exc:  # dimension mismatch, backend unavailable: say so
            self.note.value = f"<span style='color:#cf222e'>{H.esc(exc)}</span>"
            return None
        self.figure = fig
        self.image.value = plots.figure_png(fig)
        self.note.value = (f"<span style='font-size:12px; color:#57606a'>{len(view.candidates)} candidates, "
                           f"{plots.lens_label(self.lens)}, backend {H.esc(self.backend.value)}. Points are the "
                           "candidates projected onto the plane; arrows are repairs.</span>")
        return fig
