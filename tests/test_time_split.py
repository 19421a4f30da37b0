"""Where a solve's wall time goes (model, sandbox, other) and what a user sees of speed."""

import io
import re
import time

import pytest

from atlas_kernel.bench.task_progress import BenchProgress
from atlas_kernel.cli.progress_lines import ProgressPrinter
from atlas_kernel.models.base import Sampling
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


# -- what each model call and each solve records of speed -------------------------------------------

class _BatchingModel(ScriptedModel):
    """Decodes a batch together, as the llama.cpp backend does: every completion of one batch reports
    the batch's time (its elapsed and decode seconds are shared), and drafts when the sampling asks."""

    def generate_batch(self, prompts, samplings):
        t0 = time.perf_counter()
        time.sleep(0.01)  # a batch takes time once, however many sequences it holds
        outs = [ScriptedModel.generate(self, p, s) for p, s in zip(prompts, samplings)]
        shared = time.perf_counter() - t0
        for c in outs:
            c.elapsed_s = c.decode_s = shared
            c.cached_prompt_tokens = min(2, c.prompt_tokens)
            c.meta["prefill_s"] = shared / 10
        return outs

    def generate(self, prompt, sampling=None):
        return self.generate_batch([prompt], [sampling or Sampling()])[0]


class _DraftingModel(_BatchingModel):
    def generate_batch(self, prompts, samplings):
        outs = super().generate_batch(prompts, samplings)
        for c in outs:
            c.drafted_tokens, c.accepted_tokens = 8, 6
        return outs


def _solve(model, condition="E", **over):
    cfg = PipelineConfig.for_condition(condition, **{"k": 3, "n_plans": 1, **over})
    return Pipeline(model, cfg, style="chat").run(load_problem("example:sum_of_list"))


def test_every_model_call_records_its_decode_time_rate_and_prefill():
    sol = _solve(_BatchingModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT)))
    calls = sol.trace.llm_calls
    assert len(calls) >= 4
    events = {e.data["id"]: e.data for e in sol.trace.events if e.kind == "llm_call"}
    for c in calls:
        assert c["decode_s"] > 0 and c["prefill_s"] > 0
        assert c["tokens_per_s"] == pytest.approx(c["completion_tokens"] / c["decode_s"])
        assert c["prefill_tokens"] == c["prompt_tokens"] - c["cached_prompt_tokens"]
        assert "acceptance_rate" not in c and "drafted_tokens" not in c  # no drafting ran
        ev = events[c["id"]]  # the event stream says the same as the trace
        assert {k: ev[k] for k in ("decode_s", "tokens_per_s", "prefill_tokens")} == \
            {k: c[k] for k in ("decode_s", "tokens_per_s", "prefill_tokens")}


def test_the_time_split_carries_the_solves_token_totals_and_rate():
    sol = _solve(_BatchingModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT)))
    split, calls = sol.time_split, sol.trace.llm_calls
    assert split["tokens"] == sol.tokens == sum(c["completion_tokens"] for c in calls)
    assert split["prefill_tokens"] == sum(c["prefill_tokens"] for c in calls)
    assert split["tok_s"] == pytest.approx(split["tokens"] / split["model_s"])
    assert abs(split["model_s"] + split["sandbox_s"] + split["other_s"] - split["wall_s"]) < 1e-6
    assert "acceptance_rate" not in split
    # a batch is model time once: the split's model time is less than the calls' times added up
    assert split["model_s"] < sum(c["elapsed_s"] for c in calls)


def test_drafting_shows_in_each_call_and_in_the_solve_totals():
    sol = _solve(_DraftingModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT)))
    calls, split = sol.trace.llm_calls, sol.time_split
    assert all(c["drafted_tokens"] == 8 and c["acceptance_rate"] == 0.75 for c in calls)
    assert split["drafted_tokens"] == 8 * len(calls) and split["accepted_tokens"] == 6 * len(calls)
    assert split["acceptance_rate"] == 0.75


def test_each_generative_phase_says_its_tokens_and_rate_when_it_finishes():
    sol = _solve(_BatchingModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT)))
    finished = {e.phase: e for e in sol.trace.events if e.kind == "phase_finished"}
    by_phase: dict[str, int] = {}
    for c in sol.trace.llm_calls:
        by_phase[c["phase"]] = by_phase.get(c["phase"], 0) + c["completion_tokens"]
    assert by_phase.get("divsampling") and by_phase.get("repair")
    for phase, tokens in by_phase.items():
        d = finished[phase].data
        assert d["tokens"] == tokens and d["tok_s"] == pytest.approx(tokens / d["model_s"])
        assert f"{d['tok_s']:.0f} tok/s" in finished[phase].describe()
    assert "tok_s" not in finished["verify"].data  # no model call, no rate


def test_the_progress_line_rate_is_the_solves_rate_counting_a_batch_once():
    out = io.StringIO()
    printer = ProgressPrinter(out, live=True)
    cfg = PipelineConfig.for_condition("E", k=4, n_plans=1)
    sol = Pipeline(_BatchingModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT)), cfg, style="chat").run(
        load_problem("example:sum_of_list"), on_event=printer)
    shown = re.findall(r"(\d+) tok/s", out.getvalue())
    assert shown and shown[-1] == f"{sol.time_split['tok_s']:.0f}"
    assert "accepted" not in out.getvalue()


def test_the_progress_line_shows_the_solves_acceptance_when_drafting():
    out = io.StringIO()
    printer = ProgressPrinter(out, live=True)
    sol = Pipeline(_DraftingModel(responder()), PipelineConfig.for_condition("A"), style="chat").run(
        load_problem("example:sum_of_list"), on_event=printer)
    assert sol.time_split["acceptance_rate"] == 0.75 and "75% of drafts accepted" in out.getvalue()


def test_the_bench_progress_line_shows_tokens_per_second_and_acceptance_only_when_drafting():
    out = io.StringIO()
    progress = BenchProgress(3, style="plain", stream=out)
    progress.update({"task_id": "t1", "grade": "passed", "passed": True, "tokens": 300, "model_s": 2.0})
    progress.update({"task_id": "t2", "grade": "wrong_answer", "passed": False, "tokens": 100, "model_s": 2.0})
    lines = out.getvalue().splitlines()
    assert "150 tok/s" in lines[0] and "100 tok/s" in lines[1]  # over the tasks finished so far
    assert "accepted" not in out.getvalue()
    progress.update({"task_id": "t3", "grade": "passed", "passed": True, "tokens": 100, "model_s": 1.0,
                     "drafted_tokens": 40, "accepted_tokens": 30})
    assert "100 tok/s, 75% of drafts accepted" in out.getvalue().splitlines()[-1]


def test_a_bench_row_carries_the_solves_drafting_totals_only_when_drafting():
    from atlas_kernel.bench.runner import RunSpec, sample_and_grade, solve_and_grade
    from atlas_kernel.problems.types import HiddenTests, Task, TestCase

    problem = load_problem("example:sum_of_list")
    task = Task(problem, HiddenTests(problem.id, cases=(TestCase("2\n40 2\n", "42\n"),)))
    plain = solve_and_grade(task, _BatchingModel(responder(probe=RIGHT)), RunSpec("example", "A"), style="chat")
    assert plain["tokens_per_s"] > 0 and "drafted_tokens" not in plain
    drafted = solve_and_grade(task, _DraftingModel(responder(probe=RIGHT)), RunSpec("example", "A"), style="chat")
    assert (drafted["drafted_tokens"], drafted["accepted_tokens"]) == (8, 6)
    # plain sampling rows say their model time too, so the bench progress line has a rate for them
    sampled = sample_and_grade(task, _BatchingModel(responder(probe=RIGHT)), n=2, temperature=0.0, style="chat")
    assert sampled["model_s"] > 0 and sampled["tokens_per_s"] == pytest.approx(sampled["tokens"] / sampled["model_s"])


def test_a_time_split_recorded_before_its_token_total_still_reads_as_one_line():
    from atlas_kernel.pipeline.events import time_split_text

    old = {"wall_s": 10.0, "model_s": 8.0, "sandbox_s": 1.5, "other_s": 0.5}  # no tokens, no tok_s
    assert time_split_text(old, tokens=400) == "model 8.0s (50 tok/s), sandbox 1.5s, other 0.5s of 10.0s"
    assert time_split_text({}) == ""
    drafted = dict(old, tokens=400, tok_s=50.0, acceptance_rate=0.5)
    assert "(50 tok/s, 50% of drafts accepted)" in time_split_text(drafted)
