"""Run a program on test cases of a problem, whatever its kind and io format.

The solver side calls `run_public_tests` (public examples, self-generated tests); the grader
calls the same machinery with hidden tests. Nothing here decides which tests a caller may use:
that is decided by which object (Problem or HiddenTests) the caller holds.
"""

from __future__ import annotations

from typing import Sequence

from atlas_kernel.problems.types import Problem, TestCase
from atlas_kernel.sandbox import Limits, Sandbox, get_sandbox
from atlas_kernel.sandbox.execution import TestVerdict, run_functional_tests, run_stdio_tests

DEFAULT_LIMITS = Limits(timeout_s=10.0)


def run_tests(problem: Problem, code: str, tests: Sequence[TestCase], *, sandbox: Sandbox | None = None,
              limits: Limits | None = None, stop_on_first_failure: bool = False) -> list[TestVerdict]:
    sandbox = sandbox or get_sandbox()
    limits = limits or DEFAULT_LIMITS
    if not tests:
        return []
    if problem.kind == "stdio":
        return run_stdio_tests(code, list(tests), limits=limits, sandbox=sandbox, stop_on_first_failure=stop_on_first_failure)
    assert problem.entry_point
    return run_functional_tests(code, list(tests), entry_point=problem.entry_point, class_name=problem.class_name,
                                io_format=problem.io_format, limits=limits, sandbox=sandbox,
                                stop_on_first_failure=stop_on_first_failure)


def run_public_tests(problem: Problem, code: str, **kw) -> list[TestVerdict]:
    return run_tests(problem, code, problem.public_tests, **kw)
