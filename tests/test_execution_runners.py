"""Judging: stdio tests, functional tests (json / Solution class / python doctests), check programs."""

from __future__ import annotations

import time

import pytest

from atlas_kernel.problems.types import Problem, TestCase as T
from atlas_kernel.judging import all_passed, run_check_program, run_functional_tests, run_stdio_tests, run_tests
from atlas_kernel.sandbox import Limits, Sandbox

L2 = Limits(timeout_s=2)
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(2) as s:
        yield s


def verdicts(vs):
    return [v.verdict for v in vs]


# ---------------------------------------------------------------- stdio ----

def test_stdio_pass_and_wrong_answer(sb):
    vs = run_stdio_tests(ADD, [T("1 2\n", "3\n"), T("2 2", "5"), T("1 1", "2.0")], L2, sandbox=sb)
    assert verdicts(vs) == ["passed", "wrong_answer", "passed"]
    assert vs[1].actual == "4\n" and "line 1" in vs[1].message and vs[1].index == 1


def test_stdio_compile_error_runs_no_further_tests(sb):
    vs = run_stdio_tests("print(", [T(str(i), str(i)) for i in range(8)], L2, sandbox=sb)
    assert verdicts(vs) == ["compile_error"] * 8 and "SyntaxError" in vs[0].message


def test_stdio_runtime_error_and_timeout(sb):
    code = "n = int(input())\nif n == 2:\n    while True:\n        pass\nprint(10 // (n - 3))\n"
    vs = run_stdio_tests(code, [T("1", "-5"), T("2", "?"), T("3", "?")], Limits(timeout_s=1), sandbox=sb)
    assert verdicts(vs) == ["passed", "timeout", "runtime_error"]
    assert vs[2].message == "ZeroDivisionError: integer division or modulo by zero"


def test_stdio_stop_on_first_failure(sb):
    tests = [T("1 1", "2"), T("1 2", "4"), T("2 2", "4"), T("3 3", "6"), T("0 0", "1")]
    vs = run_stdio_tests(ADD, tests, L2, stop_on_first_failure=True, sandbox=sb)
    assert verdicts(vs) == ["passed", "wrong_answer"]


def test_stdio_lcb_prelude_optional(sb):
    code = "print(sqrt(int(input())))"  # no import: works only after LiveCodeBench's star imports
    assert verdicts(run_stdio_tests(code, [T("4", "2.0")], L2, sandbox=sb)) == ["runtime_error"]
    assert verdicts(run_stdio_tests(code, [T("4", "2.0")], L2, lcb_prelude=True, sandbox=sb)) == ["passed"]


# ---------------------------------------------------------------- functional json

TWO_SUM = ("class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
           "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
           "                return (seen[target - x], i)\n            seen[x] = i\n")


def test_functional_json_solution_class(sb):
    tests = [T("[2,7,11,15]\n9", "[0, 1]"), T("[3,2,4]\n6", "[1, 2]"), T("[3,3]\n6", "[0, 2]")]
    vs = run_functional_tests(TWO_SUM, tests, "twoSum", "Solution", "json", L2, sandbox=sb)
    assert verdicts(vs) == ["passed", "passed", "wrong_answer"]  # a returned tuple counts as a list
    assert vs[2].actual == "[0, 1]" and vs[2].expected == "[0, 2]"


def test_functional_json_plain_function_and_prints_are_ignored(sb):
    code = "def add(a, b):\n    print('debug noise', '{\"ev\": \"test\"}')\n    return a + b\n"
    vs = run_functional_tests(code, [T("1\n2", "3"), T("[1]\n[2]", "[1, 2]"), T("1\n1", "3")], "add", sandbox=sb,
                              limits=L2)
    assert verdicts(vs) == ["passed", "passed", "wrong_answer"]


def test_functional_per_test_timeout_and_crash_do_not_doom_other_tests(sb):
    code = ("def f(x):\n    if x == 1:\n        while True:\n            pass\n    if x == 2:\n"
            "        import os\n        os._exit(0)\n    if x == 3:\n        raise ValueError('bad')\n    return 2 * x\n")
    t0 = time.monotonic()
    vs = run_functional_tests(code, [T(str(i), str(2 * i)) for i in range(5)], "f", limits=L2,
                              per_test_timeout=0.5, sandbox=sb)
    assert verdicts(vs) == ["passed", "timeout", "runtime_error", "runtime_error", "passed"]
    assert vs[3].message == "ValueError: bad" and "<solution>" in vs[3].details
    assert time.monotonic() - t0 < 3


def test_functional_stop_on_first_failure(sb):
    vs = run_functional_tests("def f(x):\n    return x\n", [T("1", "1"), T("2", "3"), T("3", "3")], "f",
                              limits=L2, stop_on_first_failure=True, sandbox=sb)
    assert verdicts(vs) == ["passed", "wrong_answer"]


def test_functional_compile_and_load_errors(sb):
    tests = [T("1", "1"), T("2", "2")]
    assert verdicts(run_functional_tests("def f(x)\n    return x", tests, "f", limits=L2, sandbox=sb)) == \
        ["compile_error"] * 2
    vs = run_functional_tests("raise RuntimeError('at import')", tests, "f", limits=L2, sandbox=sb)
    assert verdicts(vs) == ["runtime_error"] * 2 and "at import" in vs[0].message
    vs = run_functional_tests("def g(x):\n    return x", tests, "f", limits=L2, sandbox=sb)
    assert verdicts(vs) == ["runtime_error"] * 2 and "'f'" in vs[0].message


def test_functional_memory_exceeded(sb):
    code = "def f(x):\n    return len(bytearray(x * 1024 * 1024))\n"
    vs = run_functional_tests(code, [T("1", "1048576"), T("4096", "0")], "f",
                              limits=Limits(timeout_s=5, memory_mb=512), sandbox=sb)
    assert verdicts(vs) == ["passed", "memory_exceeded"]


# ---------------------------------------------------------------- functional python (HumanEval doctests)

FIND_ZERO = "def find_zero(xs):\n    return -xs[0] / xs[1]\n"


def test_python_expression_tests_with_float_tolerance(sb):
    tests = [T("round(find_zero([1, 2]), 2)", "-0.5"), T("find_zero([1, 3])", "-0.3333333"),
             T("find_zero([1, 1])", "1.0"), T("[find_zero([2, 4])]", "[-0.5000001]")]
    vs = run_functional_tests(FIND_ZERO, tests, "find_zero", io_format="python", limits=L2, sandbox=sb)
    assert verdicts(vs) == ["passed", "passed", "wrong_answer", "passed"]
    assert vs[2].actual == "-1.0"


def test_python_tests_keep_container_types(sb):
    code = "def pair(a):\n    return (a, a)\n"
    vs = run_functional_tests(code, [T("pair(1)", "(1, 1)"), T("pair(1)", "[1, 1]")], "pair",
                              io_format="python", limits=L2, sandbox=sb)
    assert verdicts(vs) == ["passed", "wrong_answer"]


# ---------------------------------------------------------------- check programs (HumanEval)

CHECK = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9, 'three'\n"


def test_check_program_pass_and_fail(sb):
    assert run_check_program("def sq(x):\n    return x * x\n", CHECK, "sq", L2, sandbox=sb).passed
    v = run_check_program("def sq(x):\n    return x + x\n", CHECK, "sq", L2, sandbox=sb)
    assert v.verdict == "wrong_answer" and v.input == "assert candidate(3) == 9, 'three'"
    assert v.message == "AssertionError: three"


def test_check_program_compile_error_timeout_and_exit(sb):
    assert run_check_program("def sq(x) return x", CHECK, "sq", L2, sandbox=sb).verdict == "compile_error"
    assert run_check_program("def sq(x):\n    while True:\n        pass\n", CHECK, "sq", Limits(timeout_s=1),
                             sandbox=sb).verdict == "timeout"
    v = run_check_program("import sys\ndef sq(x):\n    sys.exit(0)\n", CHECK, "sq", L2, sandbox=sb)
    assert v.verdict == "runtime_error" and "exit" in v.message


def test_broken_check_program_is_not_blamed_on_the_code(sb):
    v = run_check_program("def sq(x):\n    return x * x\n", "def check(c:\n", "sq", L2, sandbox=sb)
    assert v.verdict == "runtime_error" and v.message.startswith("check program")


# ---------------------------------------------------------------- dispatch

def test_run_tests_dispatches_on_problem_kind(sb):
    p = Problem(id="p", statement="", kind="functional", entry_point="twoSum", class_name="Solution",
                io_format="json", public_tests=(T("[3,3]\n6", "[0, 1]"),))
    assert all_passed(run_tests(p, TWO_SUM, p.public_tests, limits=L2, sandbox=sb))
    q = Problem(id="q", statement="", kind="stdio", public_tests=(T("1 2", "3"),))
    assert all_passed(run_tests(q, ADD, q.public_tests, limits=L2, sandbox=sb))
    assert not all_passed([])


def test_livecodebench_stdio_programs_run_after_its_import_prelude(sb):
    # LiveCodeBench's stdio grader runs a program after its star imports: `sqrt`, `deque` work unimported
    code = "print(int(sqrt(int(input()))), len(deque([1, 2])))\n"
    lcb = Problem(id="l", statement="", kind="stdio", public_tests=(T("16", "4 2"),), metadata={"suite": "livecodebench"})
    assert all_passed(run_tests(lcb, code, lcb.public_tests, limits=L2, sandbox=sb))
    plain = lcb.replace(metadata={})
    assert run_tests(plain, code, plain.public_tests, limits=L2, sandbox=sb)[0].verdict == "runtime_error"
