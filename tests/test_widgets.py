"""The notebook widgets, headless: buttons driven with .click(), state and rendered HTML checked.
A scripted model and the real sandbox; no browser, no kernel."""

from __future__ import annotations

import datetime
import json
import sys

import pytest

pytest.importorskip("ipywidgets")

from atlas_kernel.errors import AtlasError  # noqa: E402
from atlas_kernel.pipeline.config import PipelineConfig  # noqa: E402
from atlas_kernel.pipeline.pipeline import Pipeline  # noqa: E402
from atlas_kernel.pipeline.trace import Trace  # noqa: E402
from atlas_kernel.problems import load_problem  # noqa: E402
from atlas_kernel.widgets import CandidateTable, EnergyLandscape, PipelineStepper, SolveProgress, TraceViewer  # noqa: E402
from frontend_helpers import RIGHT_CODE, scripted  # noqa: E402

def _text(html: str) -> str:
    """The visible text of an HTML fragment (Pygments splits code into spans)."""
    import html as h
    import re

    return h.unescape(re.sub(r"<[^>]+>", "", html))


SMALL_E = dict(k=3, n_plans=1, n_self_test_inputs=2, repair_rounds=1, repair_perspectives=("logic",))


@pytest.fixture(scope="module")
def finished_run():
    """A condition-E run that repairs its way to a passing candidate (shared, read-only)."""
    run = Pipeline(scripted(), PipelineConfig.for_condition("E", **SMALL_E), style="chat").start(
        load_problem("example:sum_of_list"))
    run.run_to_end()
    return run


def _stepper(condition="E", **over):
    cfg = PipelineConfig.for_condition(condition, **{**SMALL_E, **over})
    return PipelineStepper("example:sum_of_list", model=scripted(), config=cfg)


def test_stepper_buttons_step_run_and_reset():
    s = _stepper()
    assert s.run.index == 0 and s.next_button.description == "Next phase: route"
    s.next_button.click()
    assert s.run.index == 1 and s.next_button.description == "Next phase: probe"
    s.next_button.click()
    assert [c.id for c in s.state.candidates] == ["probe"] and "route" in s.progress.done_phases
    s.run_button.click()
    assert s.run.done and s.next_button.disabled and s.run_button.disabled
    sol = s.solution
    assert sol.solved_by == "repair" and sol.public_passed == sol.public_total == 2
    assert "chosen" in s.title.value and sol.candidate in s.title.value
    # panes were filled from the run
    assert "plan0" in s.plans_html.value and "self-tests" in s.tests_html.value
    parent = s.state.candidate("repair0").parent
    assert f"{parent} → <b>repair0</b>" in s.repairs_html.value
    assert "[final]" in s.log_html.value
    assert s.progress.bar.value == 1.0
    s.reset_button.click()
    assert s.run.index == 0 and s.state.candidates == [] and not s.next_button.disabled


def test_editing_a_candidate_clears_its_verdicts_and_reverifies():
    s = _stepper(condition="B")
    while s.run.next_phase != "select":
        s.step()
    probe = s.state.candidate("probe")
    assert probe.public_passed == 0 and probe.self_outputs  # wrong, and run on the self-tests
    s.edit_which.value = "probe"
    s.edit_code.value = RIGHT_CODE
    s.apply_button.click()
    assert probe.code == RIGHT_CODE and probe.meta["edited"]
    assert probe.public_passed == probe.public_total == 2  # re-verified at once
    assert set(probe.self_outputs) == set(range(len(s.state.self_tests)))  # re-run on every self-test
    assert "edited candidate" in s.message.value
    sol = s.run_to_end()
    assert sol.candidate == "probe" and sol.public_passed == 2
    with pytest.raises(AtlasError, match="run is finished"):
        s.edit_candidate("probe", "print(1)")
    edits = [e for e in s.trace.events if e.kind == "user_edit"]
    assert len(edits) == 1 and edits[0].data["candidate"] == "probe"
    # the edit's re-verification is in the trace too, and was not replayed into a later phase
    assert any(r["phase"] == "edit" for r in s.trace.test_runs)


def test_edit_before_verification_leaves_it_to_the_verify_phase():
    s = _stepper(condition="B")
    s.step()  # probe (verifies itself)
    s.step()  # plansearch: plan0 not verified yet
    plan = s.state.candidate("plan0")
    assert not plan.public
    s.edit_candidate("plan0", RIGHT_CODE)
    assert plan.public_passed == 2  # verified now (harmless: verify skips verified candidates)


def test_apply_as_new_candidate_keeps_the_original():
    s = _stepper(condition="B")
    s.step()
    s.edit_which.value = "probe"
    s.edit_code.value = RIGHT_CODE
    s.apply_new_button.click()
    ids = [c.id for c in s.state.candidates]
    assert ids == ["probe", "user0"]
    user = s.state.candidate("user0")
    assert user.origin == "user" and user.parent == "probe" and user.public_passed == 2
    assert s.state.candidate("probe").code != RIGHT_CODE


def test_self_test_edits_rerun_every_candidate():
    s = _stepper(condition="B")
    s.step()
    with pytest.raises(AtlasError, match="self_tests phase"):
        s.edit_self_test(None, "2\n1 1\n")
    s._guard(s.edit_self_test, None, "2\n1 1\n")  # through a button: shown, not raised
    assert "self_tests phase" in s.message.value
    while s.run.next_phase != "select":
        s.step()
    n = len(s.state.self_tests)
    s.test_which.value = "__new__"
    s.test_input.value = "3\n1 1 1"
    s.apply_test_button.click()
    assert len(s.state.self_tests) == n + 1
    t = s.state.self_tests[-1]
    assert t.source == "user" and t.input == "3\n1 1 1\n"
    assert all(n in c.self_outputs for c in s.state.candidates)
    # editing an existing test replaces its column for every candidate
    s.test_which.value = "0"
    assert s.test_input.value == s.state.self_tests[0].input
    s.test_input.value = "1\n42\n"
    s.apply_test_button.click()
    assert s.state.self_tests[0].input == "1\n42\n"
    outs = {c.id: c.self_outputs[0] for c in s.state.candidates}
    assert outs["probe"] == "1"  # the wrong program prints n


def test_diff_between_two_candidates(finished_run):
    s = _stepper()
    s.run_to_end()
    s.diff_a.value, s.diff_b.value = "probe", "repair0"
    html = s.diff_html.value
    assert "<table" in html and "sum(map(int" in html and "background:#" in html
    s.diff_b.value = "probe"
    assert "identical" in s.diff_html.value


def test_candidate_table_sorts_and_shows_the_selected_candidate(finished_run):
    t = CandidateTable(finished_run)
    st = finished_run.state
    assert t.order()[0] == "repair0"  # public passes, descending
    t.header_buttons["tokens"].click()
    toks = [st.candidate(c).completion_tokens for c in t.order()]
    assert toks == sorted(toks) and t.sort_key == "tokens" and not t.descending
    t.header_buttons["tokens"].click()  # again: reversed
    assert [st.candidate(c).completion_tokens for c in t.order()] == sorted(toks, reverse=True)
    assert t.header_buttons["tokens"].description.endswith("▼")
    # energies: missing values sort last either way
    for i, c in enumerate(st.candidates):
        c.energy = None if c.id == "probe" else float(i)
    try:
        t.sort_by("energy")
        assert t.order()[-1] == "probe" and t.order()[0] == [c.id for c in st.candidates if c.id != "probe"][0]
        t.sort_by("self")
        sp = [st.self_passed(st.candidate(c)) for c in t.order()]
        assert sp == sorted(sp, reverse=True)
    finally:
        for c in st.candidates:
            c.energy = None
    picked = []
    t.on_select = picked.append
    t.select("probe")
    assert t.selected == "probe" and picked == ["probe"]
    assert "print(n)" in _text(t.detail.value) and "wrong_answer" in t.detail.value and "test runs" in t.detail.value
    with pytest.raises(ValueError, match="sort key"):
        t.sort_by("colour")


def test_trace_viewer_opens_a_saved_trace_without_the_model(finished_run, tmp_path):
    path = finished_run.trace.save(tmp_path / "run.json")
    v = TraceViewer()
    v.path.value = str(path)
    v.open_button.click()
    assert v.trace is not None and "sum_of_list" in v.summary_html.value
    assert len(v.view.candidates) == len(finished_run.state.candidates)
    assert "[final]" in v.events_html.value
    v.kind_filter.value = "repair"
    assert "round 1" in v.events_html.value and "[final]" not in v.events_html.value
    # model calls: prompt and completion of the selected call
    v.call_select.value = finished_run.trace.llm_calls[0]["id"]
    assert "prompt" in v.call_html.value and "completion" in v.call_html.value
    res = v.rescore("codet")
    assert res["chosen"] in {c.id for c in finished_run.state.candidates} and "codet" in v.rescore_html.value
    v.replay_button.click()
    assert v.replay_progress.bar.value == 1.0 and v.replay_progress.candidates == len(finished_run.state.candidates)
    # a bad path is a message, not an exception
    v.path.value = str(tmp_path / "missing.json")
    v.open_button.click()
    assert "cannot read trace" in v.message.value


def test_trace_viewer_upload_and_unfinished_traces(finished_run):
    data = finished_run.trace.to_dict()
    v = TraceViewer()
    v.upload.value = ({"name": "t.json", "type": "application/json", "size": 1,
                       "content": memoryview(json.dumps(data).encode()), "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert v.trace is not None and "opened upload" in v.message.value
    # a trace saved mid-run has no candidate list: rebuilt from its events
    partial = dict(data, candidates=[], self_tests=[], result={})
    v2 = TraceViewer(Trace.from_dict(partial))
    assert {c.id for c in v2.view.candidates} == {c.id for c in finished_run.state.candidates}
    assert v2.view.candidate("repair0").parent == finished_run.state.candidate("repair0").parent is not None
    assert "before the run finished" in v2.summary_html.value


def test_progress_widget_follows_events(finished_run):
    p = SolveProgress(phases=finished_run.phases, title="demo")
    for ev in finished_run.trace.replay():
        p(ev)
    assert p.bar.value == 1.0 and p.bar.bar_style == "success"
    assert p.tokens == finished_run.state.tokens_used and "done" in p.label.value
    assert "2/2" in p.stats.value  # best public score


def test_landscape_widget_redraws_on_the_slider(finished_run):
    model = scripted()
    w = EnergyLandscape(finished_run, model=model, resolution=21)
    first = w.image.value
    assert first[:4] == b"\x89PNG" and w.figure.atlas_grid.shape == (21, 21)
    w.resolution.value = 31
    assert w.figure.atlas_grid.shape == (31, 31) and w.image.value != first
    w.plane.value = "best3"
    assert w.figure.atlas_plane.kind in ("best3", "pca")  # pca when fewer than three distinct programs
    assert "untrained lens" in w.note.value


def test_landscape_widget_reports_a_lens_of_the_wrong_size(finished_run):
    from atlas_kernel.lens import Lens

    w = EnergyLandscape(finished_run, model=scripted(), lens=Lens.init(8))
    assert w.figure is None and "8-d embeddings" in w.note.value


def test_stepper_draws_the_landscape_from_its_run():
    s = _stepper()
    with pytest.raises(AtlasError, match="no candidates"):
        s.show_landscape()
    s.run_to_end()
    s.landscape_button.click()
    land = s.landscape_box.children[0]
    assert isinstance(land, EnergyLandscape) and land.image.value[:4] == b"\x89PNG"


def test_missing_ipywidgets_names_the_install_command(monkeypatch):
    from atlas_kernel.widgets._base import require_ipywidgets

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(AtlasError, match="pip install ipywidgets"):
        require_ipywidgets()


def test_stepper_header_shows_the_last_steps_speed_from_its_event():
    s = _stepper(condition="B")
    s.next_button.click()  # probe
    fin = [e for e in s.run.trace.events if e.kind == "phase_finished"][-1]
    assert fin.phase == "probe" and fin.data["tok_s"] > 0
    assert f"probe {fin.data['tok_s']:.0f} tok/s" in _text(s.title.value)
    assert "accepted" not in s.title.value  # no drafting ran
    while s.run.last_phase != "verify":  # verify calls no model: the header keeps the last step that did
        s.next_button.click()
    gen = [e for e in s.run.trace.events if e.kind == "phase_finished" and "tok_s" in e.data][-1]
    assert gen.phase != "verify" and "tok_s" not in s.run.trace.events[-1].data
    assert f"{gen.phase} {gen.data['tok_s']:.0f} tok/s · solve " in _text(s.title.value)


def test_progress_widget_shows_the_solves_rate(finished_run):
    p = SolveProgress(phases=finished_run.phases)
    for ev in finished_run.trace.replay():
        p(ev)
    assert f"({finished_run.solution.time_split['tok_s']:.0f} tok/s)" in p.stats.value


def test_trace_viewer_summary_shows_where_the_time_went(finished_run):
    split = finished_run.solution.time_split
    v = TraceViewer(finished_run.trace)
    text = _text(v.summary_html.value)
    assert f"model {split['model_s']:.1f}s ({split['tok_s']:.0f} tok/s)" in text
    assert f"sandbox {split['sandbox_s']:.1f}s" in text and f"other {split['other_s']:.1f}s" in text
    call = finished_run.trace.llm_calls[0]
    v.call_select.value = call["id"]
    assert f"{call['tokens_per_s']:.0f} tok/s" in _text(v.call_html.value)
    assert f"{call['prefill_tokens']}" in _text(v.call_html.value)


def test_trace_viewer_opens_a_trace_recorded_before_speed_was(finished_run):
    data = json.loads(json.dumps(finished_run.trace.to_dict(), default=str))
    speed_keys = {"decode_s", "prefill_s", "tokens_per_s", "prefill_tokens", "tokens", "model_s", "tok_s",
                  "solve_tokens", "solve_model_s", "solve_tok_s"}
    for c in data["llm_calls"]:
        for k in speed_keys:
            c.pop(k, None)
    for e in data["events"]:
        if e["kind"] in ("llm_call", "phase_finished"):
            for k in speed_keys:
                e["data"].pop(k, None)
    data["result"].pop("time_split", None)
    v = TraceViewer(Trace.from_dict(data))
    assert "sum_of_list" in v.summary_html.value and "sandbox" not in _text(v.summary_html.value)
    v.call_select.value = data["llm_calls"][0]["id"]
    assert "completion" in v.call_html.value
    p = SolveProgress(phases=finished_run.phases)
    for ev in v.trace.replay():
        p(ev)
    assert "tok/s" in p.stats.value


def test_stepper_lists_dropped_repair_answers_with_the_reason():
    # two perspectives that both write the same fixed program: the second is dropped as a copy
    s = _stepper(repair_perspectives=("logic", "alternative"))
    s.run_button.click()
    assert "repair0" in s.repairs_html.value
    assert "dropped" in s.repairs_html.value and "same program as repair0" in s.repairs_html.value
    assert "dropped: same program as repair0" in s.log_html.value
