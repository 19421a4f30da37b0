"""Candidate table: one row per candidate, sortable by energy, public passes, self-test passes,
tokens (click a column button; click again to reverse); selecting a row shows its code and every
test run recorded for it.
"""

from __future__ import annotations

from typing import Any, Callable

from atlas_kernel.pipeline.state import Candidate
from atlas_kernel.widgets import _html as H
from atlas_kernel.widgets._base import require_ipywidgets
from atlas_kernel.widgets._data import RunView

widgets = require_ipywidgets()

# column key -> (button label, default order descending?). Energy: low is good, so ascending.
COLUMNS: dict[str, tuple[str, bool]] = {
    "id": ("id", False),
    "origin": ("origin", False),
    "public": ("public", True),
    "self": ("self-tests", True),
    "energy": ("energy", False),
    "tokens": ("tokens", False),
    "logprob": ("log-prob", True),
}
_WIDTHS = {"id": 10, "origin": 7, "public": 7, "self": 10, "energy": 8, "tokens": 7, "logprob": 9}

# Select renders options in the page font; a fixed-width font keeps the columns aligned. A
# <style> in an HTML widget is plain CSS, no JavaScript.
_CSS = """<style>
.atlas-cand-rows select { font-family: SFMono-Regular, Menlo, Consolas, monospace !important; font-size: 12px; }
.atlas-cand-head button { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
</style>"""


def _cell(key: str, view: RunView, c: Candidate) -> str:
    if key == "id":
        return ("*" if view.chosen == c.id else "") + c.id
    if key == "origin":
        return c.origin
    if key == "public":
        return f"{c.public_passed}/{c.public_total}" if c.public else "-"
    if key == "self":
        return f"{view.self_passed(c)}/{view.kept_self_tests}" if view.self_tests else "-"
    if key == "energy":
        return f"{c.energy:.3f}" if c.energy is not None else "-"
    if key == "tokens":
        return str(c.completion_tokens)
    if key == "logprob":
        return f"{c.mean_logprob:.3f}" if c.mean_logprob is not None else "-"
    raise KeyError(key)


def _sort_value(key: str, view: RunView, c: Candidate) -> Any:
    # missing values sort last in either direction (handled by the caller's tuple)
    if key == "public":
        return c.public_passed if c.public else None
    if key == "self":
        return view.self_passed(c) if view.self_tests else None
    if key == "energy":
        return c.energy
    if key == "tokens":
        return c.completion_tokens
    if key == "logprob":
        return c.mean_logprob
    if key == "origin":
        return c.origin
    return c.id


class CandidateTable(widgets.VBox):
    def __init__(self, source: Any = None, on_select: Callable[[str | None], None] | None = None,
                 sort: str = "public"):
        self.view: RunView | None = None
        self.on_select = on_select
        self.sort_key = sort
        self.descending = COLUMNS[sort][1]
        self.header_buttons: dict[str, Any] = {}
        for key, (label, _) in COLUMNS.items():
            b = widgets.Button(description=label, tooltip=f"sort by {label}",
                               layout=widgets.Layout(width=f"{_WIDTHS[key] + 3}ch", padding="0"))
            b.on_click(lambda _b, key=key: self.sort_by(key, toggle=True))
            self.header_buttons[key] = b
        head = widgets.HBox(list(self.header_buttons.values()))
        head.add_class("atlas-cand-head")
        row_chars = sum(_WIDTHS.values()) + 3 * len(_WIDTHS)
        self.rows = widgets.Select(options=[], rows=8, layout=widgets.Layout(width=f"{row_chars + 4}ch"))
        self.rows.add_class("atlas-cand-rows")
        self.rows.observe(self._selected, names="value")
        self.detail = widgets.HTML(value="")
        self.empty = widgets.HTML(value="<i>no candidates yet</i>")
        super().__init__(children=[widgets.HTML(_CSS), self.empty, head, self.rows, self.detail])
        self.add_class("atlas-candidate-table")
        if source is not None:
            self.refresh(source)

    # -- public API ----------------------------------------------------------------------------
    def refresh(self, source: Any = None) -> None:
        """Re-read the candidates (of `source`, or of the view shown so far)."""
        if source is not None:
            self.view = RunView.of(source)
        keep = self.rows.value
        self._fill(keep)

    def sort_by(self, key: str, descending: bool | None = None, toggle: bool = False) -> None:
        if key not in COLUMNS:
            raise ValueError(f"sort key must be one of {', '.join(COLUMNS)}, got {key!r}")
        if toggle and key == self.sort_key:
            self.descending = not self.descending
        else:
            self.descending = COLUMNS[key][1] if descending is None else descending
        self.sort_key = key
        self._fill(self.rows.value)

    def select(self, cid: str | None) -> None:
        self.rows.value = cid

    @property
    def selected(self) -> str | None:
        return self.rows.value

    def order(self) -> list[str]:
        """Candidate ids in the displayed order."""
        return [v for _, v in self.rows.options]

    # -- rendering -----------------------------------------------------------------------------
    def _sorted(self) -> list[Candidate]:
        view = self.view
        if view is None:
            return []
        key, desc = self.sort_key, self.descending
        present = [c for c in view.candidates if _sort_value(key, view, c) is not None]
        missing = [c for c in view.candidates if _sort_value(key, view, c) is None]
        present.sort(key=lambda c: _sort_value(key, view, c), reverse=desc)
        return present + missing

    def _fill(self, keep: str | None) -> None:
        view = self.view
        cands = self._sorted()
        for key, b in self.header_buttons.items():
            arrow = (" ▼" if self.descending else " ▲") if key == self.sort_key else ""
            b.description = COLUMNS[key][0] + arrow
        options = []
        for c in cands:
            text = "".join(_cell(k, view, c).ljust(_WIDTHS[k] + 3) for k in COLUMNS)
            options.append((text.replace(" ", "\u00a0"), c.id))  # nbsp: browsers collapse spaces
        self.empty.layout.display = "none" if options else None
        self.rows.options = options
        ids = [v for _, v in options]
        self.rows.value = keep if keep in ids else (view.chosen if view and view.chosen in ids else None)
        self._show(self.rows.value)

    def _selected(self, change: dict[str, Any]) -> None:
        self._show(change["new"])
        if self.on_select is not None:
            self.on_select(change["new"])

    def _show(self, cid: str | None) -> None:
        if cid is None or self.view is None:
            self.detail.value = ""
            return
        view = self.view
        c = view.candidate(cid)
        facts = [("origin", c.origin), ("tokens", c.completion_tokens)]
        if c.parent:
            facts.append(("parent", c.parent))
        if c.energy is not None:
            facts.append(("energy", f"{c.energy:.3f}"))
        if c.mean_logprob is not None:
            facts.append(("mean log-prob", f"{c.mean_logprob:.3f}"))
        runs = view.test_runs(cid)
        run_rows = []
        for r in runs:
            verdicts = r["verdicts"]
            badges = " ".join(H.badge(v["verdict"] if isinstance(v, dict) else v) for v in verdicts)
            run_rows.append((H.esc(r.get("phase", "")), H.esc(r["suite"]), H.pass_fraction(r["passed"], r["total"]), badges))
        if not runs and c.public:  # a trace without test_runs still has the candidate's verdicts
            run_rows.append(("", "public", H.pass_fraction(c.public_passed, c.public_total),
                             " ".join(H.badge(v.verdict) for v in c.public)))
        selfrows = []
        for i, t in enumerate(view.self_tests):
            if not t.kept:
                continue
            out = c.self_outputs.get(i)
            ok = out == t.expected
            selfrows.append((i, H.esc(H.short(t.input, 40)), H.esc(H.short(t.expected or "", 20)),
                             H.esc(H.short("(error)" if out is None else out, 20)), H.badge("passed" if ok else "wrong_answer")))
        parts = [f"<div style='margin-top:6px'>{H.stat_line([('candidate', c.id)] + facts)}</div>"]
        if c.plan:
            parts.append(f"<div style='color:#57606a; font-size:12px;'>plan: {H.esc(H.short(c.plan, 300))}</div>")
        parts.append(H.code_html(c.code))
        parts.append("<b>test runs</b>" + (H.table(["phase", "suite", "passed", "verdicts"], run_rows) if run_rows
                                           else " <i>none yet</i>"))
        if selfrows:
            parts.append("<b>kept self-tests</b>" + H.table(["#", "input", "expected", "output", ""], selfrows))
        self.detail.value = "".join(parts)
