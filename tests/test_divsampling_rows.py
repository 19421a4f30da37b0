"""DivSampling's rows: none repeats the probe, and the evalplus-style row's begun answer is continued."""

from __future__ import annotations

from atlas_kernel.models.base import Sampling
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.phases.divsampling import TABLE, perturbations
from atlas_kernel.pipeline.phases.probe import single_shot_request
from atlas_kernel.pipeline.prompts import FENCE_CLOSE, FENCE_OPEN
from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.problems import load_suite


def _problem():
    return load_suite("humaneval")[2].problem  # truncate_number: a short, easy function


def test_no_row_asks_the_probes_question_greedily_on_any_seed():
    problem = _problem()
    probe = single_shot_request(problem, "chat", PipelineConfig())
    for seed in range(len(TABLE)):
        for row in perturbations(4, seed):
            # the same prompt at temperature 0 would only repeat the probe's program
            assert not (row.temperature == 0 and row.prompt(problem) == list(probe.prompt)), row.name


def test_the_script_row_ends_the_prompt_with_a_begun_code_fence():
    row = next(r for r in TABLE if r.script)
    msgs = row.prompt(_problem())
    assert msgs[-1]["role"] == "assistant" and msgs[-1]["content"].endswith(FENCE_OPEN)
    assert "def truncate_number" in msgs[-2]["content"]


def test_real_model_continues_the_begun_answer_with_code(default_model):
    problem = _problem()
    row = next(r for r in TABLE if r.script)
    text, _ = default_model.render(row.prompt(problem))
    assert text.endswith(FENCE_OPEN)  # the begun answer is the end of the prompt, not a closed turn
    c = default_model.generate(row.prompt(problem), Sampling(max_tokens=160, stop=(FENCE_CLOSE,)))
    assert "```" not in c.text  # the model writes code inside the fence it was given
    code = extract_code(problem, FENCE_OPEN + c.text + FENCE_CLOSE)
    ns: dict = {}
    exec(code, ns)
    assert abs(ns["truncate_number"](3.5) - 0.5) < 1e-9
