"""Output comparison, matching LiveCodeBench's grader (`lcb_runner/evaluation/testing_util.py`).

stdio (`stdio_equal`):
  both outputs are `str.strip()`-ed, split on "\\n", and every line `str.strip()`-ed; the line
  counts must be equal; each pair of lines must be equal as strings, or else both must split
  (on whitespace) into tokens that all parse as `decimal.Decimal` and the two token lists must be
  equal as Decimals -- exact, no epsilon: "1.0" == "1", "1e3" == "1000", "0.1" != "0.10000001".
  Consequences worth knowing: blank lines *inside* the output count, trailing spaces and blank
  lines at the ends do not, and token spacing matters only for non-numeric lines.

functional, io_format "json" (`functional_equal`): the expected output is `json.loads`-ed; a returned
  tuple is turned into a list (top level only, as LiveCodeBench does); then plain `==`.

functional, io_format "python" (HumanEval doctests, `python_equal`): `==`, except that floats
  match with `math.isclose(rel_tol=1e-6, abs_tol=1e-6)`, recursively inside lists/tuples/dict values.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from atlas_kernel.sandbox._harness import FLOAT_ABS_TOL, FLOAT_REL_TOL, approx_equal, lcb_call_equal

__all__ = ["stdio_equal", "stdio_mismatch", "functional_equal", "python_equal", "FLOAT_REL_TOL", "FLOAT_ABS_TOL"]

_SHOW = 120  # characters of a differing line shown in a message


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _short(s: str) -> str:
    return s if len(s) <= _SHOW else s[:_SHOW] + "..."


def stdio_mismatch(actual: str, expected: str) -> str | None:
    """None if `actual` is accepted for `expected`, else a one-line reason."""
    got, want = _lines(actual), _lines(expected)
    if len(got) != len(want):
        return f"wrong answer: expected {len(want)} line(s), got {len(got)}"
    for i, (g, w) in enumerate(zip(got, want), 1):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        try:
            same = dg is not None and dw is not None and dg == dw
        except InvalidOperation:  # signalling NaN tokens
            same = False
        if not same:
            return f"wrong answer at line {i}: got {_short(g)!r}, expected {_short(w)!r}"
    return None


def stdio_equal(actual: str, expected: str) -> bool:
    return stdio_mismatch(actual, expected) is None


def functional_equal(actual: Any, expected_json: str) -> bool:
    """`actual` (a Python value returned by the program) against the JSON text of the expected value."""
    return lcb_call_equal(actual, json.loads(expected_json))


def python_equal(actual: Any, expected: Any) -> bool:
    return approx_equal(actual, expected)
