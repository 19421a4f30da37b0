"""Selection never compares a Lens energy with a log-probability, and repaired candidates get
energies from the same scorer as the others, also when that scorer is the model's default lens."""

import functools

from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.pipeline.selectors import lexicographic
from atlas_kernel.pipeline.state import Candidate, SolveState
from atlas_kernel.problems import load_problem

from frontend_helpers import RIGHT, WRONG, responder


def test_a_candidate_without_energy_makes_every_candidate_compare_by_log_probability():
    problem = load_problem("example:sum_of_list")
    state = SolveState(problem)
    # c0: scored, bad energy but confident; c1: unscored (e.g. added late) and unsure
    state.candidates = [Candidate(id="c0", code="a", origin="div", energy=5.0, mean_logprob=-0.1),
                        Candidate(id="c1", code="b", origin="repair", energy=None, mean_logprob=-0.9)]
    ranking, reason = lexicographic(state)
    assert ranking[0] == "c0" and "log-probability" in reason


def _first_coordinate(problem, cands, emb):
    return [float(row[0]) for row in emb]


def test_repaired_candidates_get_energy_from_the_models_default_lens(monkeypatch):
    import atlas_kernel.lens.scoring as scoring

    calls = []

    def default_scorer(model):
        calls.append(model)
        return _first_coordinate

    monkeypatch.setattr(scoring, "default_scorer", default_scorer)
    model = ScriptedModel(responder(probe=WRONG, gen=WRONG, repair=RIGHT))
    run = Pipeline(model, PipelineConfig.for_condition("E", k=2, n_plans=1, self_tests=False), style="chat").start(
        load_problem("example:sum_of_list"))
    list(run)
    repaired = [c for c in run.state.candidates if c.origin == "repair"]
    assert repaired and all(c.energy is not None for c in run.state.candidates)
    assert len(calls) == 1  # one scorer per solve
