"""Live progress of one solve: a phase label, a progress bar over the run's phases, running
counts (candidates, tokens, tok/s, best public score) and the last few event lines.

Fed one `Event` at a time (`progress(event)`), so the magic, the stepper and the trace viewer's
replay all drive it the same way.
"""

from __future__ import annotations

import time
from typing import Sequence

from atlas_kernel.pipeline.events import Event, SpeedTally
from atlas_kernel.widgets import _html as H
from atlas_kernel.widgets._base import require_ipywidgets

widgets = require_ipywidgets()


class SolveProgress(widgets.VBox):
    """HBox(phase label, FloatProgress, stats) above a short event log."""

    def __init__(self, phases: Sequence[str] = (), title: str = "", log_lines: int = 6):
        self.phases = list(phases)
        self.log_lines = log_lines
        self.label = widgets.HTML(value=f"<b>{H.esc(title)}</b> starting…" if title else "starting…",
                                  layout=widgets.Layout(min_width="16em"))
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                         layout=widgets.Layout(width="260px"))
        self.stats = widgets.HTML(value="", layout=widgets.Layout(flex="1 1 auto"))
        self.log_html = widgets.HTML(value="")
        super().__init__(children=[widgets.HBox([self.label, self.bar, self.stats]), self.log_html])
        self.add_class("atlas-progress")
        self.title = title
        self.reset()

    def reset(self, phases: Sequence[str] | None = None) -> None:
        if phases is not None:
            self.phases = list(phases)
        self.phase = ""
        self.done_phases: list[str] = []
        self.candidates = 0
        self.tokens = 0
        self.speed = SpeedTally()
        self.best: tuple[int, int] | None = None
        self.lines: list[str] = []
        self.finished = False
        self.t0 = time.perf_counter()
        self.bar.value = 0.0
        self.bar.bar_style = "info"
        self._render()

    # an Event in, the display updated
    def __call__(self, ev: Event) -> None:
        d = ev.data
        if ev.kind == "phase_started":
            self.phase = ev.phase
        elif ev.kind == "phase_finished":
            self.done_phases.append(ev.phase)
        elif ev.kind == "candidate":
            self.candidates += 1
        elif ev.kind == "llm_call":
            self.tokens += int(d.get("completion_tokens", 0))
            self.speed.add(ev)
        elif ev.kind == "test_run" and d.get("suite") == "public":
            score = (int(d.get("passed", 0)), int(d.get("total", 0)))
            if self.best is None or score[0] > self.best[0]:
                self.best = score
        if ev.kind not in ("phase_started",):
            self.lines.append(ev.describe())
            self.lines = self.lines[-self.log_lines:]
        if ev.kind == "final":
            self.phase = "final"
            self.finished = True  # stays done through the final phase_finished event
        self._render(final=self.finished)

    def finish(self, message: str = "", ok: bool = True) -> None:
        self.finished = True
        self.bar.value = 1.0
        self.bar.bar_style = "success" if ok else "danger"
        self._render(final=True, message=message)

    def _render(self, final: bool = False, message: str = "") -> None:
        n = len(self.phases)
        if n:
            self.bar.value = min(1.0, len(self.done_phases) / n)
        if final:
            self.bar.value = 1.0
            if self.bar.bar_style == "info":
                self.bar.bar_style = "success"
        head = f"<b>{H.esc(self.title)}</b> " if self.title else ""
        where = "done" if final else (f"phase <b>{H.esc(self.phase)}</b>" if self.phase else "starting…")
        step = f" ({len(self.done_phases)}/{n})" if n and not final else ""
        self.label.value = f"{head}{where}{step}"
        best = H.pass_fraction(*self.best) if self.best else "–"
        self.stats.value = (f"&nbsp;{self.candidates} candidates · {self.tokens} tokens ({H.esc(self.speed.text())}) · "
                            f"best public {best} · {time.perf_counter() - self.t0:.0f}s"
                            + (f" · {H.esc(message)}" if message else ""))
        self.log_html.value = ("<div style='font-family:monospace; font-size:11px; line-height:1.35; color:#57606a; white-space:pre-wrap;'>"
                          + "\n".join(H.esc(s) for s in self.lines) + "</div>") if self.lines else ""
