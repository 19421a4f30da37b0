"""Run a program on test cases of a problem, whatever its kind and io format.

The solver side calls `run_public_tests` (public examples, self-generated tests); the grader
calls the same machinery with hidden tests. Nothing here decides which tests a caller may use:
that is decided by which object (Problem or HiddenTests) the caller holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atlas_kernel.judging.runners import run_functional_tests, run_stdio_tests
from atlas_kernel.judging.timeouts import test_timeout_for
from atlas_kernel.judging.verdicts import TestVerdict
from atlas_kernel.problems.types import Problem, TestCase
from atlas_kernel.sandbox import Limits, Sandbox, get_sandbox


def uses_lcb_prelude(problem: Problem) -> bool:
    """LiveCodeBench runs every program (stdio and functional) after its block of star imports."""
    return problem.metadata.get("suite") == "livecodebench" or problem.io_format == "json"


def default_limits(problem: Problem) -> Limits:
    return Limits(timeout_s=test_timeout_for(problem.metadata))


def run_tests(problem: Problem, code: str, tests: Sequence[TestCase], *, sandbox: Sandbox | None = None,
              limits: Limits | None = None, stop_on_first_failure: bool = False) -> list[TestVerdict]:
    """`limits.timeout_s` is the per-test limit; without `limits`, the timeout policy's limit for
    the problem's suite (`judging.timeouts.test_timeout_for`)."""
    if not tests:
        return []
    sandbox = sandbox or get_sandbox()
    limits = limits or default_limits(problem)
    prelude = uses_lcb_prelude(problem)
    if problem.kind == "stdio":
        return run_stdio_tests(code, list(tests), limits=limits, sandbox=sandbox, lcb_prelude=prelude,
                               stop_on_first_failure=stop_on_first_failure)
    assert problem.entry_point
    return run_functional_tests(code, list(tests), entry_point=problem.entry_point, class_name=problem.class_name,
                                io_format="python" if problem.io_format == "python" else "json", limits=limits,
                                sandbox=sandbox, lcb_prelude=prelude, stop_on_first_failure=stop_on_first_failure)


def run_public_tests(problem: Problem, code: str, **kw: Any) -> list[TestVerdict]:
    return run_tests(problem, code, problem.public_tests, **kw)
