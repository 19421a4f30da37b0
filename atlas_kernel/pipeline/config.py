"""One config object for the whole pipeline: switches per phase and budgets. Which switches each
ablation condition (A..E) turns on is the registry in `conditions.py`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from dataclasses import fields as dataclass_fields
from typing import Any, Literal

from atlas_kernel.judging.timeouts import DEFAULT_TEST_TIMEOUT_S
from atlas_kernel.pipeline.conditions import CONDITIONS, DEFAULT_CONDITION, DEFAULT_SELECTOR, SELECTOR_NAMES
from atlas_kernel.pipeline.conditions import condition as _condition

__all__ = ["CONDITIONS", "TIERS", "BudgetTier", "PipelineConfig", "Selector"]

Selector = Literal["lexicographic", "codet", "mbr_exec"]  # the names of conditions.SELECTORS


@dataclass(frozen=True)
class BudgetTier:
    name: str
    think_tokens: int  # reasoning tokens allowed before the code (0 = answer directly)
    min_think_tokens: int  # below this, thinking is extended with a continuation cue


# Reasoning budgets per tier, in tokens. Measured with Qwen2.5-Coder-0.5B (benchmark/bench_budgets.py on
# results/pipeline/budget_study_qwen05, 8 HumanEval tasks, every phase run): at the old light cap of 96
# tokens 31 % of reasoning calls were cut; the tiers are doubled.
TIERS: dict[str, BudgetTier] = {
    "nothink": BudgetTier("nothink", 0, 0),
    "light": BudgetTier("light", 192, 64),
    "standard": BudgetTier("standard", 384, 128),
    "hard": BudgetTier("hard", 768, 256),
}


# Drafting of calls that write a whole program (probe, DivSampling's rows, plan implementations):
# "auto" = prompt lookup when greedy. Measured alone with Qwen2.5-Coder-0.5B (bench_speed.py,
# results/speed_cpu_v2.json): those answers copy the task's signature and docstring, 93 % of drafts
# accepted, 1.17x decode tok/s, 6/6 texts identical; on repair prompts (prose first) 72 %, 0.96x,
# and 3 of 6 texts flip at a near-tie in the prose (a multi-token decode rounds differently), so
# every other call stays plain. Not part of the run identity: greedy programs come out the same.
PROGRAM_DRAFT = "auto"


# fields older versions wrote into traces and run.json but never read: ignored when loading
_RETIRED = ("probe", "extra")


@dataclass(frozen=True)
class PipelineConfig:
    condition: str = DEFAULT_CONDITION
    # phase switches
    router: bool = True
    plansearch: bool = True
    divsampling: bool = True
    budget_forcing: bool = True
    self_tests: bool = True
    lens: bool = True
    sstar: bool = True
    repair: bool = True
    early_stop: bool = True  # the probe ends the run when it passes every public example (adaptive compute)
    selector: Selector = DEFAULT_SELECTOR
    # budgets
    k: int = 6  # candidates from Phase 1 (plans + diverse samples), probe not counted
    n_plans: int = 2
    # per code generation: ~1.5x the longest passing greedy HumanEval solution of Qwen2.5-Coder-0.5B (521 tokens;
    # benchmark/results/baseline_prompt_qwen-coder-0.5b_*.jsonl); 384 cut 5 of its 88 passing solutions
    max_tokens: int = 768
    # a plan: 15 of 16 plans of the budget study were longer than the old 160 (median 406 at a cap of 480,
    # some runaway enumerations): 512 keeps whole plans and still bounds a runaway
    plan_tokens: int = 512
    tier: str = "light"  # default reasoning tier when the router does not choose one
    n_self_test_inputs: int = 6
    repair_rounds: int = 2
    repair_perspectives: tuple[str, ...] = ("logic", "edge_cases", "assumptions", "alternative")
    sstar_inputs: int = 3
    token_budget: int = 12000  # generated tokens per task, all phases together (study: at most 6,153 with every phase on)
    # wall time per task, a safety net only: phases stop starting new work past it. Budgets are in tokens so a
    # busy machine cannot change a result; the old 300 s was reached by 3 of 8 tasks of the budget study on a
    # shared machine (up to 334 s), so it is set far above what a task needs
    time_budget_s: float = 1800.0
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S  # judging.timeouts: the one policy
    seed: int = 0
    temperature: float = 0.0  # probe / single shot
    # chat prompts that write a whole program begin the answer with the fence and the problem's own
    # signature and docstring (prompts.begun_code_prompt): the model writes the body only. Off: measured
    # (README, Benchmarks) it halves a single shot's tokens but lost 2 of 21 passes in E for 4 % of wall time
    begin_code: bool = False

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {self.condition!r}")
        if self.k < 0 or self.n_plans < 0 or self.n_plans > max(self.k, 0):
            raise ValueError(f"need 0 <= n_plans <= k, got k={self.k}, n_plans={self.n_plans}")
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}, got {self.tier!r}")
        for f in dataclass_fields(self):
            if f.type in ("bool", bool) and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"{f.name} must be true or false, got {getattr(self, f.name)!r}")
        if self.selector not in SELECTOR_NAMES:
            raise ValueError(f"selector must be one of {', '.join(SELECTOR_NAMES)}, got {self.selector!r}")

    @classmethod
    def for_condition(cls, condition: str, **overrides: Any) -> "PipelineConfig":
        cond = _condition(condition)
        fields = cond.config_fields()
        fields.update(overrides)
        return cls(condition=cond.name, **fields)

    @classmethod
    def from_options(cls, condition: str | None = None, *, k: int | None = None, max_tokens: int | None = None,
                     selector: str | None = None, seed: int | None = None, **overrides: Any) -> "PipelineConfig":
        """The config a front end's options ask for (`atlas solve`, `%atlas_solve`): None = the
        condition's default. Fewer candidates than the default number of plans plan fewer."""
        fields = dict(overrides)
        if seed is not None:
            fields["seed"] = seed
        if k is not None:
            fields["k"] = k
            fields["n_plans"] = min(int(fields.get("n_plans", cls.n_plans)), k)
        if max_tokens is not None:
            fields["max_tokens"] = max_tokens
        if selector:
            fields["selector"] = selector
        return cls.for_condition(condition or DEFAULT_CONDITION, **fields)

    def with_(self, **changes: Any) -> "PipelineConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["repair_perspectives"] = list(self.repair_perspectives)
        return d

    @staticmethod
    def current_fields(d: dict[str, Any]) -> dict[str, Any]:
        """A stored config dict (old traces, run.json) as this version writes it: without the fields it
        no longer has, and with the default of each field added since (an added field's default is the
        behaviour from before it existed), so `--resume` continues a run an older version began."""
        added = {k: v for k, v in PipelineConfig().to_dict().items() if k not in d}
        return {**{k: v for k, v in d.items() if k not in _RETIRED}, **added}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PipelineConfig":
        d = cls.current_fields(d)
        d["repair_perspectives"] = tuple(d.get("repair_perspectives", cls.repair_perspectives))
        return cls(**d)
