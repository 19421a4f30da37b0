"""The registry of ablation conditions and selectors: every front end (CLI, magic, widgets, trace
viewer, docs) reads its choices and their one-line descriptions from here.

A condition is the ordered list of optional phases (and switches) it turns on over the always-on
core (probe, verify, select, final):
  A  single shot: the probe phase alone, one greedy generation checked on the public examples.
  B  + Phase 1: PlanSearch, DivSampling, budget forcing, self-tests, selection.
  C  B + Lens energy in selection and S* tie-breaking.
  D  B + Phase 3 repair (PR-CoT).
  E  everything (C + D) and the router.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# optional phases and switches, each a boolean PipelineConfig field of the same name
SWITCHES = ("router", "plansearch", "divsampling", "budget_forcing", "self_tests", "lens", "sstar", "repair")
_PHASE1 = ("plansearch", "divsampling", "budget_forcing", "self_tests")


@dataclass(frozen=True)
class Condition:
    name: str
    label: str  # what it adds, in a few words (help texts)
    switches: tuple[str, ...]  # the SWITCHES it turns on, in pipeline order
    settings: tuple[tuple[str, Any], ...] = ()  # other PipelineConfig fields it fixes

    def config_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {s: s in self.switches for s in SWITCHES}
        fields.update(self.settings)
        return fields


_CONDITIONS = (
    Condition("A", "single shot", (), (("k", 0), ("n_plans", 0))),
    Condition("B", "+generate/select", _PHASE1),
    Condition("C", "+lens/S*", _PHASE1 + ("lens", "sstar")),
    Condition("D", "+repair", _PHASE1 + ("repair",)),
    Condition("E", "all", ("router",) + _PHASE1 + ("lens", "sstar", "repair")),
)
CONDITION_TABLE: dict[str, Condition] = {c.name: c for c in _CONDITIONS}
CONDITIONS: tuple[str, ...] = tuple(CONDITION_TABLE)
DEFAULT_CONDITION = "E"

# selector name -> what it ranks by after public examples (the functions are in selectors.py)
SELECTORS: dict[str, str] = {
    "lexicographic": "self-tests passed, then Lens energy or log-probability",
    "codet": "CodeT dual agreement: candidates agreeing x generated tests they pass (claimed outputs)",
    "mbr_exec": "MBR-exec: agreement of outputs on the self-test inputs",
}
SELECTOR_NAMES: tuple[str, ...] = tuple(SELECTORS)
DEFAULT_SELECTOR = "lexicographic"


def conditions_help() -> str:
    """'A single shot, B +generate/select, ...' for help texts and error messages."""
    return ", ".join(f"{c.name} {c.label}" for c in _CONDITIONS)


def condition(name: str) -> Condition:
    try:
        return CONDITION_TABLE[name.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown condition {name!r}: use one of {', '.join(CONDITIONS)} ({conditions_help()})") from None
