"""Judging: run a program on test cases in the sandbox and decide a typed verdict per test.

verdicts   `Verdict` (a closed set), `TestVerdict`, `all_passed`
timeouts   the one timeout policy (per-test limits: from a reference time, a harness's rule, or the default)
compare    output comparison (LiveCodeBench's rules for stdio and call-based tests)
runners    stdio, functional and check-program test runners
dispatch   `run_tests` / `run_public_tests`: the right runner for a Problem
evalplus   evalplus's rules (reference outputs and times, tolerances, special oracles)

The pipeline (public examples, self-tests) and the grader (hidden tests) both judge through
this package; only the grader holds hidden tests.
"""

from atlas_kernel.judging.dispatch import run_public_tests, run_tests
from atlas_kernel.judging.runners import run_check_program, run_functional_tests, run_stdio_tests
from atlas_kernel.judging.timeouts import DEFAULT_TEST_TIMEOUT_S
from atlas_kernel.judging.verdicts import PASSED, VERDICTS, TestVerdict, Verdict, all_passed, first_failure

__all__ = [
    "TestVerdict", "Verdict", "VERDICTS", "PASSED", "all_passed", "first_failure", "DEFAULT_TEST_TIMEOUT_S",
    "run_tests", "run_public_tests", "run_stdio_tests", "run_functional_tests", "run_check_program",
]
