"""One config object for the whole pipeline: switches per phase (the ablation conditions) and budgets.

Conditions (the ablation ladder):
  A  single shot: one greedy generation, nothing else.
  B  + Phase 1: probe, PlanSearch, DivSampling, budget forcing, selection on public examples
       and self-tests.
  C  B + Lens energy in selection and S* tie-breaking.
  D  B + Phase 3 repair (PR-CoT).
  E  everything (C + D) and the router.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from atlas_kernel.judging.timeouts import DEFAULT_TEST_TIMEOUT_S

Selector = Literal["lexicographic", "codet", "mbr_exec"]

CONDITIONS = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class BudgetTier:
    name: str
    think_tokens: int  # reasoning tokens allowed before the code (0 = answer directly)
    min_think_tokens: int  # below this, thinking is extended with a continuation cue


# Reasoning budgets per tier, in tokens; sized for models of 0.1-0.3 B parameters on 2 cores.
TIERS: dict[str, BudgetTier] = {
    "nothink": BudgetTier("nothink", 0, 0),
    "light": BudgetTier("light", 96, 32),
    "standard": BudgetTier("standard", 192, 64),
    "hard": BudgetTier("hard", 384, 128),
}


@dataclass(frozen=True)
class PipelineConfig:
    condition: str = "E"
    # phase switches
    router: bool = True
    probe: bool = True
    plansearch: bool = True
    divsampling: bool = True
    budget_forcing: bool = True
    self_tests: bool = True
    lens: bool = True
    sstar: bool = True
    repair: bool = True
    early_stop: bool = True  # the probe ends the run when it passes every public example (adaptive compute)
    selector: Selector = "lexicographic"
    # budgets
    k: int = 6  # candidates from Phase 1 (plans + diverse samples), probe not counted
    n_plans: int = 2
    max_tokens: int = 384  # per code generation
    plan_tokens: int = 160
    tier: str = "light"  # default reasoning tier when the router does not choose one
    n_self_test_inputs: int = 6
    repair_rounds: int = 2
    repair_perspectives: tuple[str, ...] = ("logic", "edge_cases", "assumptions", "alternative")
    sstar_inputs: int = 3
    token_budget: int = 12000  # generated tokens per task, all phases together
    time_budget_s: float = 300.0  # wall time per task; phases stop starting new work past it
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S  # judging.timeouts: the one policy
    seed: int = 0
    temperature: float = 0.0  # probe / single shot
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {self.condition!r}")
        if self.k < 0 or self.n_plans < 0 or self.n_plans > max(self.k, 0):
            raise ValueError(f"need 0 <= n_plans <= k, got k={self.k}, n_plans={self.n_plans}")
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {self.tier!r}")
        if self.selector not in ("lexicographic", "codet", "mbr_exec"):
            raise ValueError(f"selector must be lexicographic, codet or mbr_exec, got {self.selector!r}")

    @classmethod
    def for_condition(cls, condition: str, **overrides: Any) -> "PipelineConfig":
        c = condition.upper()
        if c not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}: use one of {', '.join(CONDITIONS)} "
                             "(A single shot, B +generate/select, C +lens/S*, D +repair, E all)")
        if c == "A":
            base = dict(router=False, probe=True, plansearch=False, divsampling=False, budget_forcing=False,
                        self_tests=False, lens=False, sstar=False, repair=False, k=0, n_plans=0)
        else:
            base = dict(router=c == "E", probe=True, plansearch=True, divsampling=True, budget_forcing=True,
                        self_tests=True, lens=c in ("C", "E"), sstar=c in ("C", "E"), repair=c in ("D", "E"))
        base.update(overrides)
        return cls(condition=c, **base)

    def with_(self, **changes: Any) -> "PipelineConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["repair_perspectives"] = list(self.repair_perspectives)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PipelineConfig":
        d = dict(d)
        d["repair_perspectives"] = tuple(d.get("repair_perspectives", cls.repair_perspectives))
        return cls(**d)
