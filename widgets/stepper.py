"""Pipeline stepper: run a solve one phase at a time, look at everything it produced, edit a
candidate or a self-test, and continue from there.

    s = PipelineStepper("example:sum_of_list", config=PipelineConfig.for_condition("D", k=2))
    s                        # Next phase / Run to end / Reset, and the panes below
    s.step(); s.edit_candidate("probe", fixed_code); s.run_to_end()   # the same from code

Panes: plans, candidates (sortable table, diff of two candidates), test runs and self-tests,
energies (+ landscape), S* inputs/outputs, repair attempts, the edit pane, the event log.

Edits are the run's own operations (`PipelineRun.edit_candidate`, `.edit_self_test`): the run
clears what the edit made stale, re-verifies, re-ranks and records a `user_edit` event in the
trace; this widget only calls them and shows the outcome.
"""

from __future__ import annotations

from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.conditions import DEFAULT_CONDITION
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.events import Event, SpeedTally, speed_text
from atlas_kernel.pipeline.pipeline import Pipeline, PipelineRun, Solution
from atlas_kernel.pipeline.state import Candidate, SelfTest
from atlas_kernel.problems.types import Problem
from atlas_kernel.widgets import _html as H
from atlas_kernel.widgets._base import require_ipywidgets
from atlas_kernel.widgets._data import RunView
from atlas_kernel.widgets.candidates import CandidateTable
from atlas_kernel.widgets.solve_progress import SolveProgress

widgets = require_ipywidgets()

TABS = ("Plans", "Candidates", "Tests", "Energies", "S*", "Repairs", "Edit", "Log")
_NEW = "__new__"


def _problem(problem: Problem | str) -> Problem:
    if isinstance(problem, Problem):
        return problem
    from atlas_kernel.problems import load_problem

    return load_problem(problem)


def _config(config: PipelineConfig | str | None) -> PipelineConfig:
    if isinstance(config, PipelineConfig):
        return config
    return PipelineConfig.for_condition(config or DEFAULT_CONDITION)


class PipelineStepper(widgets.VBox):
    def __init__(self, problem: Problem | str, model: Any = None, config: PipelineConfig | str | None = None, *,
                 model_spec: str | None = None, style: str | None = None, sandbox: Any = None,
                 energy_scorer: Any = None, lens: Any = None):
        from atlas_kernel import session

        self.problem = _problem(problem)
        self.config = _config(config)
        if model is None:
            model = session.get_model(model_spec)
            style = style or session.prompt_style_for(model_spec, model)
        self.model = model
        self.pipeline = Pipeline(model, self.config, style=style, sandbox=sandbox, energy_scorer=energy_scorer)
        self.lens = lens
        self._busy = False
        self.run: PipelineRun = self.pipeline.start(self.problem)
        self._build()
        self.reset()

    # ------------------------------------------------------------------------------ layout
    def _build(self) -> None:
        W = widgets
        self.title = W.HTML()
        self.next_button = W.Button(description="Next phase", button_style="primary", icon="step-forward",
                                    layout=W.Layout(width="auto"))
        self.run_button = W.Button(description="Run to end", icon="fast-forward")
        self.reset_button = W.Button(description="Reset", icon="undo")
        self.next_button.on_click(lambda _b: self._guard(self.step))
        self.run_button.on_click(lambda _b: self._guard(self.run_to_end))
        self.reset_button.on_click(lambda _b: self._guard(self.reset))
        self.progress = SolveProgress(title=self.problem.id)
        self.message = W.HTML()

        self.plans_html = W.HTML()
        self.table = CandidateTable(sort="public")
        self.diff_a = W.Dropdown(description="diff", layout=W.Layout(width="14em"))
        self.diff_b = W.Dropdown(description="against", layout=W.Layout(width="14em"))
        self.diff_html = W.HTML()
        for d in (self.diff_a, self.diff_b):
            d.observe(lambda _c: self._render_diff(), names="value")
        cand_pane = W.VBox([self.table, W.HBox([self.diff_a, self.diff_b]), self.diff_html])
        self.tests_html = W.HTML()
        self.energy_html = W.HTML()
        self.landscape_button = W.Button(description="Draw landscape", icon="area-chart")
        self.landscape_box = W.VBox()
        self.landscape_button.on_click(lambda _b: self._guard(self.show_landscape))
        energy_pane = W.VBox([self.energy_html, self.landscape_button, self.landscape_box])
        self.sstar_html = W.HTML()
        self.repairs_html = W.HTML()

        # edit pane: a candidate's code, or a self-test input
        self.edit_which = W.Dropdown(description="candidate", layout=W.Layout(width="18em"))
        self.edit_code = W.Textarea(layout=W.Layout(width="98%", height="14em"))
        self.apply_button = W.Button(description="Apply", button_style="warning", tooltip="replace this candidate's code")
        self.apply_new_button = W.Button(description="Apply as new candidate", tooltip="keep the original, add the edit")
        self.edit_which.observe(lambda c: self._load_edit(c["new"]), names="value")
        self.apply_button.on_click(lambda _b: self._guard(self._apply_candidate, False))
        self.apply_new_button.on_click(lambda _b: self._guard(self._apply_candidate, True))
        self.test_which = W.Dropdown(description="self-test", layout=W.Layout(width="18em"))
        self.test_input = W.Textarea(layout=W.Layout(width="98%", height="6em"), placeholder="test input")
        self.apply_test_button = W.Button(description="Apply self-test", button_style="warning")
        self.test_which.observe(lambda c: self._load_test(c["new"]), names="value")
        self.apply_test_button.on_click(lambda _b: self._guard(self._apply_test))
        self.edit_note = W.HTML()
        edit_pane = W.VBox([
            W.HTML("<b>Edit a candidate</b> — its verdicts are cleared and it is re-verified; later phases see the edit."),
            self.edit_which, self.edit_code, W.HBox([self.apply_button, self.apply_new_button]),
            W.HTML("<b>Edit or add a self-test input</b> — every candidate is re-run on it and the agreement rule re-applied."),
            self.test_which, self.test_input, self.apply_test_button, self.edit_note])
        self.log_html = W.HTML()

        self.tabs = W.Tab(children=[W.VBox([self.plans_html]), cand_pane, W.VBox([self.tests_html]), energy_pane,
                                    W.VBox([self.sstar_html]), W.VBox([self.repairs_html]), edit_pane,
                                    W.VBox([self.log_html])])
        self.tabs.titles = TABS
        super().__init__(children=[self.title, W.HBox([self.next_button, self.run_button, self.reset_button]),
                                   self.progress, self.message, self.tabs])
        self.add_class("atlas-stepper")

    # ------------------------------------------------------------------------------ actions
    def _guard(self, fn: Any, *args: Any) -> Any:
        """Button callbacks: one action at a time, errors shown in the widget, not lost in the log."""
        if self._busy:
            return None
        self._busy = True
        self._set_buttons(False)
        try:
            return fn(*args)
        except (AtlasError, ValueError, KeyError) as exc:
            self.message.value = f"<span style='color:#cf222e'>{H.esc(exc)}</span>"
            return None
        finally:
            self._busy = False
            self._set_buttons(True)

    def _set_buttons(self, enabled: bool) -> None:
        done = self.run.done
        self.next_button.disabled = not enabled or done
        self.run_button.disabled = not enabled or done
        self.reset_button.disabled = not enabled

    def reset(self) -> None:
        """A fresh run of the same problem, model and config."""
        self.run = self.pipeline.start(self.problem)
        self.progress.reset(self.run.phases)
        self.message.value = ""
        self.refresh()

    def step(self) -> list[Event]:
        """Run the next phase; the display follows its events live."""
        if self.run.done:
            return []
        events: list[Event] = []
        for ev in self.run.stream():
            events.append(ev)
            self._on_event(ev)
        self.refresh()
        return events

    def run_to_end(self) -> Solution | None:
        while not self.run.done:
            self.step()
        return self.run.solution

    @property
    def state(self) -> Any:
        return self.run.state

    @property
    def solution(self) -> Solution | None:
        return self.run.solution

    @property
    def trace(self) -> Any:
        return self.run.trace

    def _on_event(self, ev: Event) -> None:
        self.progress(ev)
        self._render_log()

    @property
    def edits(self) -> list[dict[str, Any]]:
        return self.run.edits

    def edit_candidate(self, cid: str, code: str, *, as_new: bool = False) -> Candidate:
        """Replace candidate `cid`'s code (or add the edit as a new `user` candidate)."""
        cand = self.run.edit_candidate(cid, code, as_new=as_new, on_event=self.progress)
        self.message.value = (f"<span style='color:#1a7f37'>{'added' if as_new else 'edited'} candidate "
                              f"<b>{H.esc(cand.id)}</b>"
                              + (f": public {cand.public_passed}/{cand.public_total}" if cand.public else
                                 " (verified when the verify phase runs)") + "</span>")
        self.refresh()
        return cand

    def edit_self_test(self, index: int | None, test_input: str) -> SelfTest:
        """Change self-test `index`'s input (None: add a new one); candidates are re-run on it."""
        t = self.run.edit_self_test(index, test_input, on_event=self.progress)
        if index is None:
            index = len(self.run.state.self_tests) - 1
        self.message.value = (f"<span style='color:#1a7f37'>self-test #{index}: "
                              + (f"kept, expected {H.esc(H.short(t.expected or '', 40))!s} ({t.support}/{t.runnable} agree)"
                                 if t.kept else f"not kept ({t.support}/{t.runnable} agree)") + "</span>")
        self.refresh()
        return t

    def _apply_candidate(self, as_new: bool) -> None:
        cid = self.edit_which.value
        if cid is None:
            raise AtlasError("no candidate to edit yet")
        self.edit_candidate(cid, self.edit_code.value, as_new=as_new)

    def _apply_test(self) -> None:
        which = self.test_which.value
        self.edit_self_test(None if which in (None, _NEW) else int(which), self.test_input.value)

    def _load_edit(self, cid: str | None) -> None:
        if cid is None:
            self.edit_code.value = ""
            return
        try:
            self.edit_code.value = self.run.state.candidate(cid).code
        except KeyError:
            self.edit_code.value = ""

    def _load_test(self, which: Any) -> None:
        if which in (None, _NEW):
            self.test_input.value = ""
        else:
            self.test_input.value = self.run.state.self_tests[int(which)].input

    def show_landscape(self) -> Any:
        from atlas_kernel.widgets.landscape import EnergyLandscape

        if not self.run.state.candidates:
            raise AtlasError("no candidates yet — step past the generation phases first")
        if not self.landscape_box.children:
            self.landscape_box.children = [EnergyLandscape(self.run, model=self.model, lens=self.lens)]
        else:
            self.landscape_box.children[0].set_source(self.run)
        return self.landscape_box.children[0]

    # ------------------------------------------------------------------------------ rendering
    def refresh(self) -> None:
        run = self.run
        view = RunView.of(run)
        nxt = run.next_phase
        self.next_button.description = f"Next phase: {nxt}" if nxt else "Finished"
        self._set_buttons(not self._busy)
        st = run.state
        sol = run.solution
        done = f"{run.index}/{len(run.phases)} phases"
        head = [("problem", self.problem.id), ("condition", self.config.condition), ("model", getattr(self.model, "name", "?")),
                ("progress", done), ("tokens", st.tokens_used)]
        speed = speed_of(run.trace.events)
        if speed:
            head.append(("speed", speed))
        if sol is not None:
            head.append(("chosen", f"{sol.candidate} ({sol.public_passed}/{sol.public_total} public)"))
        elif st.stopped_early:
            head.append(("stopping early", st.stopped_early))
        self.title.value = f"<div style='font-size:13px'>{H.stat_line(head)}</div>"
        self.table.refresh(view)
        ids = [c.id for c in st.candidates]
        self._set_options(self.diff_a, ids, 0)
        self._set_options(self.diff_b, ids, 1)
        self._render_diff()
        keep = self.edit_which.value
        self.edit_which.options = ids
        self.edit_which.value = keep if keep in ids else (ids[0] if ids else None)
        self._load_edit(self.edit_which.value)
        tests = [(f"#{i} {H.short(t.input, 24)}", str(i)) for i, t in enumerate(st.self_tests)] + [("(new self-test)", _NEW)]
        keep_t = self.test_which.value
        self.test_which.options = tests
        self.test_which.value = keep_t if keep_t in [v for _, v in tests] else _NEW
        self._render_plans(view)
        self._render_tests(view)
        self._render_energies(view)
        self._render_sstar(view)
        self._render_repairs(view)
        self._render_log()

    @staticmethod
    def _set_options(dd: Any, ids: list[str], default_index: int) -> None:
        keep = dd.value
        dd.options = ids
        if keep in ids:
            dd.value = keep
        elif ids:
            dd.value = ids[min(default_index, len(ids) - 1)]

    def _render_diff(self) -> None:
        a, b = self.diff_a.value, self.diff_b.value
        if not a or not b:
            self.diff_html.value = "<i>two candidates are needed for a diff</i>"
            return
        st = self.run.state
        try:
            self.diff_html.value = H.diff_html(st.candidate(a).code, st.candidate(b).code, a, b)
        except KeyError:
            self.diff_html.value = ""

    def _render_plans(self, view: RunView) -> None:
        st = self.run.state
        parts = []
        if st.route:
            parts.append(f"<b>route</b>: {H.esc(st.route.get('path'))} path, tier {H.esc(st.route.get('tier'))} "
                         f"— {H.esc(st.route.get('reason'))}")
        rows = [(H.esc(c.id), H.esc(c.origin), H.pre(c.plan, 1200) if c.plan else "<i>–</i>") for c in view.candidates]
        parts.append(H.table(["candidate", "origin", "plan / sampling"], rows) if rows else "<i>no plans or candidates yet</i>")
        calls = [c for c in self.run.trace.llm_calls if c["phase"] == "plansearch"]
        if calls:
            parts.append("<details><summary>PlanSearch model calls ("
                         f"{len(calls)})</summary>" + "".join(
                             f"<div><b>{H.esc(c['purpose'])}</b>{H.pre(c['completion'], 1500)}</div>" for c in calls)
                         + "</details>")
        self.plans_html.value = "".join(f"<div style='margin:4px 0'>{p}</div>" for p in parts)

    def _render_tests(self, view: RunView) -> None:
        rows = []
        for r in view.test_runs():
            badges = " ".join(H.badge(v["verdict"]) for v in r["verdicts"])
            rows.append((H.esc(r["phase"]), H.esc(r["candidate"]), H.esc(r["suite"]), H.pass_fraction(r["passed"], r["total"]),
                         badges, f"{r.get('elapsed_s', 0):.2f}s"))
        parts = ["<b>test runs</b>" + (H.table(["phase", "candidate", "suite", "passed", "verdicts", "time"], rows)
                                       if rows else " <i>none yet</i>")]
        tests = view.self_tests
        if tests:
            trows = []
            for i, t in enumerate(tests):
                outs = " ".join(
                    f"{H.esc(c.id)}:{'✓' if t.kept and c.self_outputs.get(i) == t.expected else ('✗' if t.kept else '·')}"
                    for c in view.candidates)
                trows.append((i, H.pre(t.input, 300), H.esc(H.short(t.expected or "–", 30)), f"{t.support}/{t.runnable}",
                              "kept" if t.kept else "dropped", H.esc(t.source), outs))
            parts.append("<b>self-tests</b> (rule: kept when enough candidates agree; the majority output is expected)"
                         + H.table(["#", "input", "expected", "agree", "", "source", "candidates"], trows))
        self.tests_html.value = "".join(f"<div style='margin:4px 0'>{p}</div>" for p in parts)

    def _render_energies(self, view: RunView) -> None:
        evs = view.events("energy")
        if not evs:
            self.energy_html.value = "<i>no energies yet (the lens phase runs in conditions C and E)</i>"
            return
        parts = [f"source: {H.esc(evs[-1].data.get('source'))}"]
        en = view.energies()
        if en:
            parts.append(H.table(["candidate", "energy"], [(H.esc(k), f"{v:.4f}") for k, v in sorted(en.items(), key=lambda kv: kv[1])]))
        self.energy_html.value = "<br>".join(parts)

    def _render_sstar(self, view: RunView) -> None:
        evs = view.events("sstar")
        if not evs:
            self.sstar_html.value = "<i>no S* comparison yet (conditions C and E, when the top two tie)</i>"
            return
        parts = []
        for e in evs:
            d = e.data
            rows = []
            outs = d.get("outputs") or []
            for j, inp in enumerate(d.get("inputs") or []):
                o = outs[j] if j < len(outs) else None
                oa, ob = (o if isinstance(o, (list, tuple)) and len(o) == 2 else (o, None))
                rows.append((H.pre(str(inp), 300), H.esc(H.short(str(oa), 40)), H.esc(H.short(str(ob), 40))))
            parts.append(f"<b>{H.esc(d.get('a'))}</b> vs <b>{H.esc(d.get('b'))}</b>: winner "
                         f"<b>{H.esc(d.get('winner'))}</b> — {H.esc(d.get('reason'))}"
                         + (H.table(["input", f"{d.get('a')} output", f"{d.get('b')} output"], rows) if rows else ""))
        self.sstar_html.value = "<hr>".join(parts)

    def _render_repairs(self, view: RunView) -> None:
        evs = view.events("repair")
        if not evs:
            self.repairs_html.value = "<i>no repair attempts yet (conditions D and E, when the best candidate fails)</i>"
            return
        rows = []
        for e in evs:
            d = e.data
            if not d.get("candidate"):  # the answer held no program, or one already in the pool
                rows.append((d.get("round"), H.esc(d.get("perspective")), f"{H.esc(d['parent'])} → <i>dropped</i>",
                             H.esc(d.get("dropped", "")), H.esc(H.short(d.get("explanation", ""), 200))))
                continue
            try:
                child = view.candidate(d["candidate"])
                verdict = H.pass_fraction(child.public_passed, child.public_total) if child.public else "–"
                expl = H.esc(H.short(child.plan, 200))
            except KeyError:
                verdict, expl = "–", ""
            rows.append((d.get("round"), H.esc(d.get("perspective")), f"{H.esc(d['parent'])} → <b>{H.esc(d['candidate'])}</b>",
                         verdict, expl))
        self.repairs_html.value = H.table(["round", "perspective", "repair", "public", "model's explanation"], rows)

    def _render_log(self) -> None:
        lines = [e.describe() for e in self.run.trace.events if e.kind != "phase_started"]
        self.log_html.value = (f"<div style='{H.MONO} white-space:pre-wrap; max-height:24em; overflow:auto;'>"
                               + "\n".join(H.esc(s) for s in lines[-400:]) + "</div>")


def speed_of(events: list[Event]) -> str:
    """The last step that called the model: its tok/s (and the drafts' acceptance when it
    drafted), as its phase_finished event reports it; with the solve's rate so far once more
    than one step generated. Read from the event stream, never recomputed here."""
    steps = [e for e in events if e.kind == "phase_finished" and "tok_s" in e.data]
    if not steps:
        return ""
    last = steps[-1]
    out = f"{last.phase} {speed_text(last.data['tok_s'], last.data.get('acceptance_rate'))}"
    if len(steps) > 1:
        solve = SpeedTally()
        for e in events:
            solve.add(e)
        out += f" · solve {solve.text()}"
    return out
