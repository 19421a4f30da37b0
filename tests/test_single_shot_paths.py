"""Condition A is the probe phase alone, and every front end's single shot sends the model the same
request: `atlas solve --condition A`, `%atlas_solve --condition A`, a benchmark row under condition
A, and one greedy sample of `atlas bench --samples`. `atlas solve` runs the full pipeline (E) unless
told otherwise."""

from __future__ import annotations

import json

import pytest

from atlas_kernel import session
from atlas_kernel.cli.main import main as atlas_main
from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.problems import load_problem
from atlas_kernel.problems.types import HiddenTests, Task, TestCase
from frontend_helpers import RIGHT

NAME = "scripted-single-shot"


@pytest.fixture
def model():
    requests: list = []

    def answer(prompt, sampling):
        requests.append((prompt, sampling))
        return RIGHT

    m = ScriptedModel(answer)
    m.requests = requests
    session.register_model(NAME, m)
    yield m
    session._models.pop(NAME, None)


def _task() -> Task:
    problem = load_problem("example:sum_of_list")
    return Task(problem, HiddenTests(problem.id, cases=(TestCase("2\n40 2\n", "42\n"),)))


def test_every_single_shot_front_end_sends_the_same_request(model, capsys):
    IPython = pytest.importorskip("IPython")
    from atlas_kernel.bench.runner import RunSpec, sample_and_grade, solve_and_grade

    assert atlas_main(["solve", "example:sum_of_list", "--model", NAME, "--condition", "A", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["condition"] == "A" and out["candidate"] == "probe" and out["public_passed"] == 2

    shell = IPython.core.interactiveshell.InteractiveShell.instance()
    shell.run_line_magic("load_ext", "atlas_kernel")
    try:
        res = shell.run_line_magic("atlas_solve", f"example:sum_of_list --model {NAME} --condition A --quiet")
    finally:
        shell.run_line_magic("unload_ext", "atlas_kernel")
    assert res.solution.candidate == "probe"

    row = solve_and_grade(_task(), model, RunSpec("example", "A"), style="chat")
    assert row["passed"] and row["chosen"] == "probe"
    sampled = sample_and_grade(_task(), model, n=1, temperature=0.0, style="chat")
    assert sampled["n_correct"] == 1

    assert len(model.requests) == 4  # one generation each
    first = model.requests[0]
    assert all(r == first for r in model.requests), "the single shots differ in prompt or sampling"


def test_atlas_solve_runs_the_full_pipeline_by_default(model, capsys):
    assert atlas_main(["solve", "example:sum_of_list", "--model", NAME, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["condition"] == "E" and len(model.requests) > 1


def test_atlas_solve_refuses_an_unknown_condition_in_one_line(model, capsys):
    with pytest.raises(SystemExit) as exc:
        atlas_main(["solve", "example:sum_of_list", "--model", NAME, "--condition", "F"])
    assert exc.value.code == 2 and "invalid choice: 'F'" in capsys.readouterr().err
    assert not model.requests


def test_plain_sampling_varies_only_temperature_and_seed_of_the_single_shot(model):
    from atlas_kernel.bench.runner import sample_and_grade

    sample_and_grade(_task(), model, n=3, temperature=0.6, seed=2, style="chat")
    (p0, s0), *rest = model.requests
    assert all(p == p0 for p, _ in rest)
    assert {s.temperature for _, s in model.requests} == {0.6} and len({s.seed for _, s in model.requests}) == 3
    assert {s.with_(temperature=0.0, seed=0, top_p=1.0) for _, s in model.requests} == {s0.with_(temperature=0.0, seed=0, top_p=1.0)}
