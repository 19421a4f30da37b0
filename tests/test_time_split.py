"""Where a solve's wall time goes (model, sandbox, other) and what a user sees of speed."""

import io

from atlas_kernel.cli.progress_lines import ProgressPrinter
from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.events import Event
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.problems import load_problem

from frontend_helpers import RIGHT, WRONG, responder


def test_the_time_split_adds_up_to_the_wall_time():
    model = ScriptedModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT))
    sol = Pipeline(model, PipelineConfig.for_condition("E", k=2, n_plans=1), style="chat").run(
        load_problem("example:sum_of_list"))
    split = sol.time_split
    assert split["sandbox_s"] > 0  # public examples, self-tests and repairs ran in the sandbox
    assert split["model_s"] >= 0 and split["other_s"] >= 0
    assert abs(split["model_s"] + split["sandbox_s"] + split["other_s"] - split["wall_s"]) < 1e-6
    assert split["wall_s"] <= sol.wall_s + 1e-3
    assert sol.trace.result["time_split"] == split


def test_progress_line_shows_tokens_per_second_and_acceptance_only_when_drafting():
    out = io.StringIO()
    p = ProgressPrinter(out, live=True)
    p(Event("llm_call", "probe", {"completion_tokens": 100, "elapsed_s": 2.0, "purpose": "x", "prompt_tokens": 5}))
    assert "50 tok/s)" in out.getvalue() and "accepted" not in out.getvalue()
    p(Event("llm_call", "repair", {"completion_tokens": 100, "elapsed_s": 2.0, "purpose": "y", "prompt_tokens": 5,
                                   "drafted_tokens": 80, "accepted_tokens": 60}))
    assert "75% of drafts accepted" in out.getvalue()


def test_a_drafted_call_says_its_acceptance_in_its_event_line():
    ev = Event("llm_call", "repair", {"purpose": "repair", "completion_tokens": 40, "elapsed_s": 1.0,
                                      "prompt_tokens": 9, "drafted_tokens": 30, "accepted_tokens": 24})
    assert "24/30 drafted tokens accepted" in ev.describe()
