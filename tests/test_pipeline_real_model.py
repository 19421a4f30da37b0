"""The pipeline with the real default model (Qwen2.5-Coder-0.5B-Instruct) and the real sandbox, on small budgets."""

import re

import pytest

from atlas_kernel.grading import grader_for
from atlas_kernel.models.registry import prompt_style
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.problems import load_problem, load_task

pytestmark = pytest.mark.real_model

SMALL = dict(k=2, n_plans=1, max_tokens=96, plan_tokens=48, n_self_test_inputs=3, repair_rounds=1,
             repair_perspectives=("logic", "alternative"), sstar_inputs=2, time_budget_s=240)


def _hidden_fragments(task):
    """Distinctive pieces of the hidden tests that are not also public examples."""
    public = " ".join(t.input + " " + t.output for t in task.problem.public_tests)
    frags = set()
    for m in re.finditer(r"candidate\((.*?)\)\s*(?:==\s*(.+))?$", task.hidden.check_program, re.MULTILINE):
        for frag in (m.group(1), m.group(2)):
            if frag and len(frag.strip()) >= 8 and frag.strip() not in public:
                frags.add(frag.strip())
    return frags


def test_full_pipeline_never_puts_hidden_tests_in_any_prompt(default_model):
    task = load_task("humaneval", "HumanEval/0")
    fragments = _hidden_fragments(task)
    assert len(fragments) >= 3  # the check has inputs that are not docstring examples
    cfg = PipelineConfig.for_condition("E", **SMALL)
    run = Pipeline(default_model, cfg, style="chat").start(task.problem)
    phases = {e.phase for e in run if e.kind == "phase_started"}
    assert {"probe", "verify", "final"} <= phases
    prompts = "\n".join(run.trace.prompts())
    assert prompts  # the model was asked things
    leaked = [f for f in fragments if f in prompts]
    assert leaked == []
    sol = run.solution
    assert sol.code and sol.public_total == len(task.problem.public_tests)
    # graded once, afterwards, by the grader alone
    assert grader_for(task).grade(sol.code).summary in {"passed", "wrong_answer", "runtime_error", "timeout", "compile_error"}


def test_condition_e_on_a_stdio_problem_records_a_complete_trace(default_model, tmp_path):
    problem = load_problem("example:sum_of_list")
    cfg = PipelineConfig.for_condition("E", **SMALL)
    sol = Pipeline(default_model, cfg, style=prompt_style(None)).run(problem)
    tr = sol.trace
    assert tr.llm_calls and all(c["completion_tokens"] >= 0 for c in tr.llm_calls)
    assert sum(c["completion_tokens"] for c in tr.llm_calls) == sol.tokens
    assert tr.test_runs and {r["suite"] for r in tr.test_runs} >= {"public"}
    assert tr.result["candidate"] == sol.candidate
    # the user sees where the time went, and the model's speed: both real, both from this solve
    assert sol.time_split["model_s"] > 0 and sol.tokens / sol.time_split["model_s"] > 0
    assert sol.time_split["sandbox_s"] > 0
    tr.save(tmp_path / "trace.json")


def test_a_short_solve_records_the_models_speed_per_call_and_in_total(default_model):
    cfg = PipelineConfig.for_condition("A", max_tokens=48)
    sol = Pipeline(default_model, cfg, style=prompt_style(None)).run(load_problem("example:sum_of_list"))
    split, calls = sol.time_split, sol.trace.llm_calls
    assert split["tokens"] == sol.tokens > 0 and split["tok_s"] > 0
    assert calls and all(c["decode_s"] > 0 and c["tokens_per_s"] > 0 and c["prefill_s"] > 0 for c in calls)
    assert all(0 <= c["prefill_tokens"] <= c["prompt_tokens"] for c in calls)
    # greedy program-writing calls draft by prompt lookup (this short answer may copy nothing to
    # draft from): the acceptance rate shows exactly when drafts ran, computed from the record
    drafted = sum(c.get("drafted_tokens", 0) for c in calls)
    assert ("acceptance_rate" in split) == (drafted > 0)
    if drafted:
        assert split["acceptance_rate"] == sum(c.get("accepted_tokens", 0) for c in calls) / drafted
    assert abs(split["model_s"] + split["sandbox_s"] + split["other_s"] - split["wall_s"]) < 1e-6
