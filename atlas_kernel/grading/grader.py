"""The grader: the only holder of a task's hidden tests, used once on a final program."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.judging import evalplus
from atlas_kernel.judging.dispatch import default_limits, run_tests
from atlas_kernel.judging.runners import run_check_program
from atlas_kernel.judging.verdicts import TestVerdict, all_passed, first_failure
from atlas_kernel.problems.types import HiddenTests, Problem, ReferenceTests, Task
from atlas_kernel.sandbox import Limits, Sandbox, get_sandbox

# evalplus runs candidates under a 4 GiB address-space limit; the reference run may print many outputs
EVALPLUS_MEMORY_MB = 4096
_REFERENCE_LIMITS = Limits(timeout_s=300.0, memory_mb=EVALPLUS_MEMORY_MB, output_bytes=256 << 20)


@dataclass
class GradeResult:
    task_id: str
    passed: bool
    verdicts: list[TestVerdict] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def first_failure(self) -> TestVerdict | None:
        return first_failure(self.verdicts)

    @property
    def summary(self) -> str:
        if self.passed:
            return "passed"
        f = self.first_failure
        return f.verdict if f else "no tests"

    def to_dict(self) -> dict[str, Any]:
        """Verdicts only: which hidden test failed first and how, never its input, expected
        output, the program's output, a message or a traceback (any of them can quote hidden data)."""
        f = self.first_failure
        return {"task_id": self.task_id, "passed": self.passed, "verdict": self.summary,
                "n_tests_run": len(self.verdicts),
                "first_failure": f.public_dict() if f else None, "wall_s": round(self.wall_s, 4)}


class ReferenceError_(AtlasError):
    """The reference solution of an evalplus task failed: the task cannot be graded."""


class Grader:
    """Grades programs for one task. `limits.timeout_s` is the per-test limit; by default the
    timeout policy's limit for the task's suite (`judging.timeouts`); evalplus tasks take their
    limits from the reference solution's times instead."""

    def __init__(self, problem: Problem, hidden: HiddenTests, *, limits: Limits | None = None,
                 sandbox: Sandbox | None = None):
        if hidden.problem_id != problem.id:
            raise ValueError(f"hidden tests of {hidden.problem_id!r} do not belong to problem {problem.id!r}")
        self.problem = problem
        self._hidden = hidden
        self.limits = limits or default_limits(problem)
        self._sandbox = sandbox
        self._reference_lock = threading.Lock()
        self._reference_run: tuple[list[list[float]], str] | None = None

    def grade(self, code: str, *, stop_on_first_failure: bool = True) -> GradeResult:
        sandbox = self._sandbox or get_sandbox()
        t0 = time.perf_counter()
        verdicts: list[TestVerdict] = []
        hidden = self._hidden
        if hidden.cases:
            verdicts += run_tests(self.problem, code, hidden.cases, sandbox=sandbox, limits=self.limits,
                                  stop_on_first_failure=stop_on_first_failure)
        go_on = not (stop_on_first_failure and not all(v.passed for v in verdicts))
        if hidden.check_program and go_on:
            assert self.problem.entry_point
            v = run_check_program(code, hidden.check_program, self.problem.entry_point, limits=self.limits,
                                  sandbox=sandbox)
            v.index = len(verdicts)
            verdicts.append(v)
        go_on = not (stop_on_first_failure and not all(v.passed for v in verdicts))
        if hidden.reference is not None and go_on:
            verdicts.append(self._grade_by_reference(code, hidden.reference, sandbox, offset=len(verdicts)))
        return GradeResult(self.problem.id, all_passed(verdicts), verdicts, time.perf_counter() - t0)

    # -- evalplus ------------------------------------------------------------------------
    def _reference_outputs(self, ref: ReferenceTests, sandbox: Sandbox) -> tuple[list[list[float]], str]:
        with self._reference_lock:  # many samples of one task share one reference run
            if self._reference_run is None:
                program = evalplus.reference_program(ref.solution, ref.entry_point,
                                                     [list(x) for _, x in ref.input_sets], not_none=ref.output_not_none)
                r = sandbox.run(program, limits=_REFERENCE_LIMITS)
                if r.status != "ok":
                    raise ReferenceError_(f"{self.problem.id}: the reference solution failed ({r.status}: {r.message}) "
                                          "— check the canonical_solution and inputs in the suite file")
                self._reference_run = evalplus.parse_reference_output(r.stdout)
            return self._reference_run

    def _grade_by_reference(self, code: str, ref: ReferenceTests, sandbox: Sandbox, *, offset: int) -> TestVerdict:
        times, blob = self._reference_outputs(ref, sandbox)
        sets = [list(x) for _, x in ref.input_sets]
        check, total_s = evalplus.check_program(ref.entry_point, sets, blob, times, atol=ref.atol, flavour=ref.flavour)
        v = run_check_program(code, check, ref.entry_point, sandbox=sandbox,
                              limits=Limits(timeout_s=total_s, memory_mb=EVALPLUS_MEMORY_MB))
        at = evalplus.failing_test(v.input, sets)
        # the check line and the comparison are ours, not the task's: keep neither in the verdict
        msg = {"wrong_answer": "wrong answer", "timeout": "time limit exceeded (evalplus rule)"}.get(v.verdict, v.message)
        return TestVerdict(v.verdict, offset + (at or 0), message=msg,
                           wall_s=v.wall_s, details=v.details if v.verdict == "runtime_error" else "")


def grader_for(task: Task, **kw: Any) -> Grader:
    """The grader of a task (the one place that opens a Task's hidden tests)."""
    return Grader(task.problem, task.hidden, **kw)
