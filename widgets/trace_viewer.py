"""Trace viewer: open a saved trace JSON and look at it without the model.

Open by path (text box + Open) or by uploading the file; then: a summary, the event log
(filterable by kind, replayable into a progress display), the candidates (sortable table with
code and test runs), every model call (prompt and completion), the self-tests, and offline
re-scoring with another selector (`Trace.rescore`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.conditions import DEFAULT_SELECTOR, SELECTOR_NAMES
from atlas_kernel.pipeline.events import speed_text, time_split_text
from atlas_kernel.pipeline.trace import Trace
from atlas_kernel.widgets import _html as H
from atlas_kernel.widgets._base import require_ipywidgets
from atlas_kernel.widgets._data import RunView
from atlas_kernel.widgets.candidates import CandidateTable
from atlas_kernel.widgets.solve_progress import SolveProgress

widgets = require_ipywidgets()

TABS = ("Summary", "Events", "Candidates", "Model calls", "Self-tests", "Rescore")


def _as_trace(source: Any) -> Trace:
    if isinstance(source, Trace):
        return source
    if isinstance(source, (str, Path)):
        return Trace.load(source)
    if isinstance(source, dict):
        return Trace.from_dict(source)
    trace = getattr(source, "trace", None)  # Solution, PipelineRun, the magic's result
    if isinstance(trace, Trace):
        return trace
    raise AtlasError(f"cannot open {type(source).__name__} as a trace: give a path, a Trace, or a solve result")


class TraceViewer(widgets.VBox):
    def __init__(self, source: Any = None):
        W = widgets
        self.trace: Trace | None = None
        self.view: RunView | None = None
        self.path = W.Text(placeholder="path/to/trace.json", layout=W.Layout(width="32em"))
        self.open_button = W.Button(description="Open", icon="folder-open")
        self.open_button.on_click(lambda _b: self._open_clicked())
        self.upload = W.FileUpload(accept=".json", multiple=False, description="Upload trace")
        self.upload.observe(self._uploaded, names="value")
        self.message = W.HTML()
        self.summary_html = W.HTML()
        self.kind_filter = W.Dropdown(options=["all"], value="all", description="kind")
        self.kind_filter.observe(lambda _c: self._render_events(), names="value")
        self.replay_button = W.Button(description="Replay", icon="play", tooltip="replay the events into a progress display")
        self.replay_button.on_click(lambda _b: self.replay())
        self.replay_progress = SolveProgress()
        self.replay_progress.layout.display = "none"
        self.events_html = W.HTML()
        self.table = CandidateTable(sort="public")
        self.call_select = W.Select(options=[], rows=8, layout=W.Layout(width="98%"))
        self.call_select.observe(lambda _c: self._render_call(), names="value")
        self.call_html = W.HTML()
        self.selftests_html = W.HTML()
        self.selector = W.Dropdown(options=list(SELECTOR_NAMES), value=DEFAULT_SELECTOR, description="selector")
        self.rescore_button = W.Button(description="Rescore", icon="sort")
        self.rescore_button.on_click(lambda _b: self.rescore())
        self.rescore_html = W.HTML()
        self.tabs = W.Tab(children=[
            W.VBox([self.summary_html]),
            W.VBox([W.HBox([self.kind_filter, self.replay_button]), self.replay_progress, self.events_html]),
            W.VBox([self.table]),
            W.VBox([self.call_select, self.call_html]),
            W.VBox([self.selftests_html]),
            W.VBox([W.HBox([self.selector, self.rescore_button]), self.rescore_html]),
        ])
        self.tabs.titles = TABS
        super().__init__(children=[W.HBox([self.path, self.open_button, self.upload]), self.message, self.tabs])
        self.add_class("atlas-trace-viewer")
        if source is not None:
            self.load(source)

    # -- opening --------------------------------------------------------------------------------
    def load(self, source: Any) -> Trace:
        """Show a trace (path, Trace, dict, or anything with a .trace)."""
        trace = _as_trace(source)
        self.trace = trace
        self.view = RunView.from_trace(trace)
        if isinstance(source, (str, Path)):
            self.path.value = str(source)
        self.message.value = ""
        self._render()
        return trace

    def _open_clicked(self) -> None:
        try:
            self.load(self.path.value.strip())
        except AtlasError as exc:
            self.message.value = f"<span style='color:#cf222e'>{H.esc(exc)}</span>"

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        try:
            data = json.loads(bytes(item["content"]).decode("utf-8"))
            self.load(Trace.from_dict(data))
            self.message.value = f"opened upload {H.esc(item.get('name', ''))}"
        except (ValueError, KeyError, AtlasError) as exc:
            self.message.value = f"<span style='color:#cf222e'>cannot read {H.esc(item.get('name', 'upload'))}: {H.esc(exc)}</span>"

    # -- actions --------------------------------------------------------------------------------
    def replay(self) -> None:
        """Feed the recorded events, in order, into a progress display (no model involved)."""
        if self.trace is None:
            return
        phases = [e.phase for e in self.trace.events if e.kind == "phase_started"]
        self.replay_progress.title = self.trace.problem.get("id", "")
        self.replay_progress.reset(phases)
        self.replay_progress.layout.display = None
        for ev in self.trace.replay():
            self.replay_progress(ev)

    def rescore(self, selector: str | None = None) -> dict[str, Any]:
        if self.trace is None:
            raise AtlasError("open a trace first")
        if selector is not None:
            self.selector.value = selector
        if not self.trace.candidates:
            self.rescore_html.value = "<i>this trace has no final candidate list (saved before the run finished)</i>"
            return {}
        res = self.trace.rescore(self.selector.value)
        original = self.trace.result.get("candidate")
        self.rescore_html.value = (f"{H.stat_line([('selector', res['selector']), ('chosen', res['chosen']), ('recorded choice', original)])}"
                                   f"<br>ranking: {H.esc(', '.join(res['ranking']))}<br><i>{H.esc(res['reason'])}</i>")
        return res

    # -- rendering ------------------------------------------------------------------------------
    def _render(self) -> None:
        tr, view = self.trace, self.view
        assert tr is not None and view is not None
        p, r = tr.problem, tr.result or {}
        facts = [("problem", p.get("id")), ("kind", p.get("kind")), ("model", tr.model.get("name")),
                 ("condition", tr.config.get("condition")), ("events", len(tr.events)), ("model calls", len(tr.llm_calls)),
                 ("candidates", len(view.candidates))]
        parts = [H.stat_line(facts)]
        if r:
            parts.append(H.stat_line([("chosen", r.get("candidate")), ("public", f"{r.get('public_passed')}/{r.get('public_total')}"),
                                      ("solved by", r.get("solved_by")), ("tokens", r.get("tokens")),
                                      ("wall", f"{float(r.get('wall_s') or 0):.1f}s")]))
            split = time_split_text(r.get("time_split") or {}, r.get("tokens"))
            if split:  # traces recorded before the split have none
                parts.append(f"time: {H.esc(split)}")
            if r.get("stopped_early"):
                parts.append(f"stopped early: {H.esc(r['stopped_early'])}")
            parts.append(H.code_html(r.get("code", "")))
        else:
            parts.append("<i>no result: the trace was saved before the run finished</i>")
        parts.append(f"<details><summary>statement</summary>{H.pre(p.get('statement', ''), 3000)}</details>")
        self.summary_html.value = "<br>".join(parts)
        kinds = sorted({e.kind for e in tr.events})
        self.kind_filter.options = ["all"] + kinds
        self.kind_filter.value = "all"
        self._render_events()
        self.table.refresh(view)
        self.call_select.options = [(f"{c['id']} [{c['phase']}] {c['purpose']} — {c['completion_tokens']} tokens", c["id"])
                                    for c in tr.llm_calls]
        self.call_select.value = tr.llm_calls[0]["id"] if tr.llm_calls else None
        self._render_call()
        if view.self_tests:
            rows = [(i, H.pre(t.input, 300), H.esc(H.short(t.expected or "–", 30)), f"{t.support}/{t.runnable}",
                     "kept" if t.kept else "dropped", H.esc(t.source)) for i, t in enumerate(view.self_tests)]
            self.selftests_html.value = H.table(["#", "input", "expected", "agree", "", "source"], rows)
        else:
            self.selftests_html.value = "<i>no self-tests in this trace</i>"
        self.rescore_html.value = ""

    def _render_events(self) -> None:
        if self.trace is None:
            return
        kind = self.kind_filter.value
        lines = [e.describe() for e in self.trace.events if kind == "all" or e.kind == kind]
        self.events_html.value = (f"<div style='{H.MONO} white-space:pre-wrap; max-height:28em; overflow:auto;'>"
                                  + "\n".join(H.esc(s) for s in lines) + "</div>")

    def _render_call(self) -> None:
        if self.trace is None or self.call_select.value is None:
            self.call_html.value = ""
            return
        call = next(c for c in self.trace.llm_calls if c["id"] == self.call_select.value)
        prompt = call["prompt"]
        if isinstance(prompt, str):
            prompt_html = H.pre(prompt, 8000)
        else:
            prompt_html = "".join(f"<div><b>{H.esc(m.get('role'))}</b>{H.pre(m.get('content', ''), 6000)}</div>" for m in prompt)
        s = call.get("sampling", {})
        meta = [("phase", call["phase"]), ("prompt tokens", call.get("prompt_tokens")),
                ("completion tokens", call.get("completion_tokens")), ("temperature", s.get("temperature")),
                ("finish", call.get("finish_reason")), ("time", f"{float(call.get('elapsed_s') or 0):.2f}s")]
        if "tokens_per_s" in call:  # traces recorded before per-call speed have none
            meta += [("decode", f"{float(call['decode_s']):.2f}s, "
                               + speed_text(call["tokens_per_s"], call.get("acceptance_rate"))),
                     ("prompt tokens evaluated", call.get("prefill_tokens"))]
        self.call_html.value = (H.stat_line(meta) + "<h4 style='margin:6px 0 2px'>prompt</h4>" + prompt_html
                                + "<h4 style='margin:6px 0 2px'>completion</h4>" + H.pre(call.get("completion", ""), 8000))
