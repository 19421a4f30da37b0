"""Phases are objects with one home each, conditions are one registry, and every front end offers
exactly the registry's conditions and selectors."""

from __future__ import annotations

import pytest

from atlas_kernel.pipeline import conditions
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.phase import Phase
from atlas_kernel.pipeline.phases import PHASES
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.problems import load_problem
from frontend_helpers import scripted


def test_every_phase_is_a_phase_object_in_its_own_module():
    assert all(isinstance(p, Phase) for p in PHASES)
    assert [p.name for p in PHASES] == ["route", "probe", "plansearch", "divsampling", "verify", "self_tests", "lens",
                                        "select", "sstar", "repair", "final"]
    assert {p.name for p in PHASES if p.generative} == {"plansearch", "divsampling", "self_tests", "sstar", "repair"}
    assert len({type(p).__module__ for p in PHASES}) == len(PHASES)


@pytest.mark.parametrize("name,phases", [
    ("A", ["probe", "verify", "select", "final"]),
    ("B", ["probe", "plansearch", "divsampling", "verify", "self_tests", "select", "final"]),
    ("C", ["probe", "plansearch", "divsampling", "verify", "self_tests", "lens", "select", "sstar", "final"]),
    ("D", ["probe", "plansearch", "divsampling", "verify", "self_tests", "select", "repair", "final"]),
    ("E", ["route", "probe", "plansearch", "divsampling", "verify", "self_tests", "lens", "select", "sstar", "repair",
           "final"]),
])
def test_a_condition_is_its_list_of_phases(name, phases):
    run = Pipeline(scripted(), PipelineConfig.for_condition(name), style="chat").start(load_problem("example:sum_of_list"))
    assert run.phases == phases


def test_condition_a_is_the_probe_with_no_candidates_beyond_it():
    cfg = PipelineConfig.for_condition("a")
    assert cfg.condition == "A" and cfg.k == 0 and not any(getattr(cfg, s) for s in conditions.SWITCHES)


def test_unknown_condition_and_selector_name_the_choices():
    with pytest.raises(ValueError, match="A, B, C, D, E"):
        PipelineConfig.for_condition("Z")
    with pytest.raises(ValueError, match="lexicographic, codet, mbr_exec"):
        PipelineConfig(selector="best")


def test_selector_functions_match_the_registry():
    from atlas_kernel.pipeline.selectors import SELECTORS

    assert tuple(SELECTORS) == conditions.SELECTOR_NAMES


def test_front_ends_offer_the_registry_choices():
    from atlas_kernel.cli.main import build_parser

    parser = build_parser()
    solve = parser._subparsers._group_actions[0].choices["solve"]
    bench = parser._subparsers._group_actions[0].choices["bench"]
    opts = {a.dest: a for a in solve._actions}
    assert tuple(opts["condition"].choices) == conditions.CONDITIONS
    assert tuple(opts["selector"].choices) == conditions.SELECTOR_NAMES
    assert tuple({a.dest: a for a in bench._actions}["condition"].choices) == conditions.CONDITIONS

    pytest.importorskip("IPython")
    from atlas_kernel.magic import AtlasMagics
    from atlas_kernel.magic_args import USAGE

    assert tuple(AtlasMagics.condition.values) == conditions.CONDITIONS
    assert AtlasMagics.condition.default_value == conditions.DEFAULT_CONDITION
    assert all(s in USAGE for s in conditions.SELECTOR_NAMES) and conditions.conditions_help() in USAGE


def test_an_old_trace_config_loads(tmp_path):
    old = PipelineConfig.for_condition("D").to_dict()
    old.update({"probe": True, "extra": {"note": "ignored"}})  # fields older versions wrote and never read
    assert PipelineConfig.from_dict(old) == PipelineConfig.for_condition("D")
