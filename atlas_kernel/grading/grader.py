"""The grader: the only holder of a task's hidden tests, used once on a final program."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from atlas_kernel.grading.verify import run_tests
from atlas_kernel.problems.types import HiddenTests, Problem
from atlas_kernel.sandbox import Limits, Sandbox, get_sandbox
from atlas_kernel.sandbox.execution import TestVerdict, run_check_program


@dataclass
class GradeResult:
    task_id: str
    passed: bool
    verdicts: list[TestVerdict] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def first_failure(self) -> TestVerdict | None:
        return next((v for v in self.verdicts if v.verdict != "passed"), None)

    @property
    def summary(self) -> str:
        if self.passed:
            return "passed"
        f = self.first_failure
        return f.verdict if f else "no tests"

    def to_dict(self, *, with_io: bool = False) -> dict[str, Any]:
        """with_io=False drops inputs/expected outputs, so a result file shows no hidden test data."""
        rows = []
        for v in self.verdicts:
            d = v.to_dict()
            if not with_io:
                for key in ("input", "expected", "actual"):
                    d.pop(key, None)
            rows.append(d)
        return {"task_id": self.task_id, "passed": self.passed, "summary": self.summary, "verdicts": rows,
                "wall_s": round(self.wall_s, 4)}


class Grader:
    def __init__(self, problem: Problem, hidden: HiddenTests, *, limits: Limits | None = None,
                 sandbox: Sandbox | None = None):
        if hidden.problem_id != problem.id:
            raise ValueError(f"hidden tests of {hidden.problem_id!r} do not belong to problem {problem.id!r}")
        self.problem = problem
        self._hidden = hidden
        self.limits = limits or Limits(timeout_s=20.0)
        self._sandbox = sandbox

    def grade(self, code: str, *, stop_on_first_failure: bool = True) -> GradeResult:
        sandbox = self._sandbox or get_sandbox()
        t0 = time.perf_counter()
        verdicts: list[TestVerdict] = []
        if self._hidden.cases:
            verdicts += run_tests(self.problem, code, self._hidden.cases, sandbox=sandbox, limits=self.limits,
                                  stop_on_first_failure=stop_on_first_failure)
        if self._hidden.check_program and not (stop_on_first_failure and any(v.verdict != "passed" for v in verdicts)):
            assert self.problem.entry_point
            verdicts.append(run_check_program(code, self._hidden.check_program, self.problem.entry_point,
                                              limits=self.limits, sandbox=sandbox))
        passed = bool(verdicts) and all(v.verdict == "passed" for v in verdicts)
        return GradeResult(self.problem.id, passed, verdicts, time.perf_counter() - t0)
