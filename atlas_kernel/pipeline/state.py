"""What one solve accumulates: candidates, their test results, self-tests, the selection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from atlas_kernel.problems.types import Problem, TestCase

if TYPE_CHECKING:
    from atlas_kernel.pipeline.checks import TestVerdict


@dataclass
class Candidate:
    id: str
    code: str
    origin: str  # probe | plan | div | repair | user
    plan: str = ""
    parent: str | None = None  # repairs: the candidate repaired
    completion_tokens: int = 0
    mean_logprob: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # filled by verification
    public: list["TestVerdict"] = field(default_factory=list)  # one per public test
    self_outputs: dict[int, str | None] = field(default_factory=dict)  # self-test index -> output (None = error)
    energy: float | None = None

    @property
    def public_passed(self) -> int:
        return sum(1 for v in self.public if v.passed)

    @property
    def public_total(self) -> int:
        return len(self.public)

    @property
    def compiles(self) -> bool:
        return not any(v.verdict == "compile_error" for v in self.public)

    @property
    def passes_public(self) -> bool:
        """Checked on public examples and passed every one."""
        return bool(self.public) and self.public_passed == self.public_total

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # verdicts become their dicts
        d["self_outputs"] = {str(k): v for k, v in self.self_outputs.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Candidate":
        from atlas_kernel.pipeline.checks import verdict_from_dict

        d = dict(d)
        d["self_outputs"] = {int(k): v for k, v in d.get("self_outputs", {}).items()}
        d["public"] = [verdict_from_dict(v) for v in d.get("public", [])]
        return cls(**d)


@dataclass
class SelfTest:
    """A model-written test input; its expected output is decided by agreement among candidates."""

    input: str
    expected: str | None = None  # None until agreed
    support: int = 0  # candidates that produced `expected`
    runnable: int = 0  # candidates that produced any output
    model_expected: str | None = None  # what the model claimed, if it wrote one
    kept: bool = False
    source: str = "model"  # model | mutation | user

    def as_case(self) -> TestCase:
        assert self.expected is not None
        return TestCase(self.input, self.expected)


@dataclass
class SolveState:
    problem: Problem
    candidates: list[Candidate] = field(default_factory=list)
    self_tests: list[SelfTest] = field(default_factory=list)
    route: dict[str, Any] = field(default_factory=dict)
    answer_only: bool = False  # the router found no coding question: the probe answers in prose, once
    tier: str = "light"
    chosen: str | None = None
    selection_reason: str = ""
    ranking: list[str] = field(default_factory=list)
    stopped_early: str | None = None
    self_test_voters: str = ""  # whose outputs decided the self-tests (see self_tests.evaluate)
    tokens_used: int = 0
    phase_times: dict[str, float] = field(default_factory=dict)
    solved_by: str | None = None  # the phase whose candidate was chosen

    def candidate(self, cid: str) -> Candidate:
        for c in self.candidates:
            if c.id == cid:
                return c
        raise KeyError(f"no candidate {cid!r}; have {[c.id for c in self.candidates]}")

    def new_id(self, origin: str) -> str:
        n = sum(1 for c in self.candidates if c.origin == origin)
        return f"{origin}{n}"

    @property
    def kept_self_tests(self) -> list[SelfTest]:
        return [t for t in self.self_tests if t.kept]

    def self_passed(self, c: Candidate) -> int:
        return sum(1 for i, t in enumerate(self.self_tests) if t.kept and c.self_outputs.get(i) == t.expected)

    def best_public(self) -> Candidate | None:
        if not self.candidates:
            return None
        return max(self.candidates, key=lambda c: (c.public_passed, self.self_passed(c)))
