"""Our output comparison agrees with LiveCodeBench's own grader on tricky cases.

The reference is `livecodebench/evaluation/testing_util.py` from the `nvidia-livecodebench`
package (`pip install --no-deps nvidia-livecodebench`); the cross-checks skip without it.
"""

from __future__ import annotations

import pytest

from atlas_kernel.problems.types import TestCase
from atlas_kernel.judging import run_functional_tests, run_stdio_tests
from atlas_kernel.judging.compare import functional_equal, python_equal, stdio_equal
from atlas_kernel.sandbox import Limits, Sandbox

# (program output, expected output)
STDIO_CASES = [
    ("3\n", "3"), ("3   \n", "3"), ("  3", "3"), ("1 2\n3", "1 2\n3\n\n\n"), ("\n\n3", "3"),
    ("3\n\n4", "3\n4"), ("3\n4", "3\n\n4"), ("", ""), ("", "0"), ("0\n", ""),
    ("1.0", "1"), ("1e3", "1000"), ("1000.00", "1E+3"), ("0.1", "0.10000001"), ("0.30000000000000004", "0.3"),
    ("-0", "0"), ("+5", "5"), ("1_000", "1000"), ("inf", "Infinity"), ("nan", "nan"), ("NaN", "nan"),
    ("1  2", "1 2"), ("1\t2", "1 2"), ("a  b", "a b"), ("YES", "yes"), ("1 2 3", "1 2"), ("0x10", "16"),
    ("3\r\n4\r\n", "3\n4"), ("\u00a03", "3"), ("[1, 2]", "[1,2]"), ("1 a", "1.0 a"), ("2 3", "2.0 3.00"),
    ("50000000000000000", "50000000000000001"), ("1\n2\n", "1\n2 "), ("True", "true"),
]

# (literal the method returns, expected JSON)
CALL_CASES = [
    ("[1, 2]", "[1, 2]"), ("(1, 2)", "[1, 2]"), ("[(1, 2)]", "[[1, 2]]"), ("1", "1.0"), ("1.0", "1"),
    ("True", "1"), ("True", "true"), ("0.1 + 0.2", "0.3"), ("None", "null"), ("'a'", "\"a\""), ("1", "\"1\""),
    ("{'a': 1, 'b': 2}", "{\"b\": 2, \"a\": 1}"), ("{1: 2}", "{\"1\": 2}"), ("[]", "[]"), ("[1, 2]", "[2, 1]"),
    ("{1, 2}", "[1, 2]"), ("[[1], [2]]", "[[1], [2]]"), ("-0.0", "0"), ("10**20", "100000000000000000000"),
]


def _lcb():
    return pytest.importorskip("livecodebench.evaluation.testing_util")


def _lcb_stdio_pass(tu, actual: str, expected: str) -> bool:
    res, _meta = tu.grade_stdio(f"import sys\nsys.stdout.write({actual!r})\n", [""], [expected], 5)
    return res == [True]


def _lcb_call_pass(tu, literal: str, expected: str) -> bool:
    code = f"class Solution:\n    def f(self, x):\n        return {literal}\n"
    res, _meta = tu.grade_call_based(code, ["0"], [expected], "f", 5)
    return res == [True]


@pytest.fixture(scope="module")
def sb():
    with Sandbox(2) as s:
        yield s


@pytest.mark.parametrize("actual,expected", STDIO_CASES)
def test_stdio_rule_matches_livecodebench(actual, expected):
    assert stdio_equal(actual, expected) == _lcb_stdio_pass(_lcb(), actual, expected)


@pytest.mark.parametrize("literal,expected", CALL_CASES)
def test_call_rule_matches_livecodebench(literal, expected):
    assert functional_equal(eval(literal), expected) == _lcb_call_pass(_lcb(), literal, expected)


def test_sandboxed_stdio_verdicts_match_livecodebench(sb):
    tu = _lcb()
    for actual, expected in STDIO_CASES:
        v = run_stdio_tests(f"import sys\nsys.stdout.write({actual!r})\n", [TestCase("", expected)],
                            Limits(timeout_s=5), sandbox=sb)[0]
        assert v.passed == _lcb_stdio_pass(tu, actual, expected), (actual, expected, v)


def test_sandboxed_call_verdicts_match_livecodebench(sb):
    tu = _lcb()
    for literal, expected in CALL_CASES:
        code = f"class Solution:\n    def f(self, x):\n        return {literal}\n"
        v = run_functional_tests(code, [TestCase("0", expected)], "f", "Solution", "json", Limits(timeout_s=5),
                                 sandbox=sb)[0]
        assert v.passed == _lcb_call_pass(tu, literal, expected), (literal, expected, v)


def test_known_rules_without_livecodebench():
    # the documented behaviour, checked even where the reference package is absent
    assert stdio_equal("1.0\n", "1") and stdio_equal("1e3", "1000") and stdio_equal("1  2", "1 2")
    assert not stdio_equal("0.1", "0.10000001") and not stdio_equal("3\n\n4", "3\n4")
    assert not stdio_equal("a  b", "a b") and stdio_equal("3   \n\n", "3")
    assert functional_equal((1, 2), "[1, 2]") and not functional_equal([(1, 2)], "[[1, 2]]")
    assert not functional_equal(0.1 + 0.2, "0.3")
    assert python_equal(0.1 + 0.2, 0.3) and python_equal([1.0000001], [1.0]) and not python_equal((1,), [1])
    assert not python_equal(1.01, 1.0)
