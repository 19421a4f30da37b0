"""evalplus's grading rules, run in our sandbox.

evalplus (`HumanEvalPlus.jsonl`, `MbppPlus.jsonl`) ships test *inputs* only. Its evaluator:

1. runs the reference solution (prompt + canonical_solution) on every input (a deep copy of it),
   recording each call's wall time, to get the expected outputs;
2. runs the candidate on each input of a set (base inputs, then plus inputs) in order, each call
   under a limit of max(1 s, 4 x the reference's time) (`judging.timeouts.reference_limit`),
   the set as a whole under min(60 s, sum of limits) + 1 s; the first failing input fails the
   sample;
3. compares: `out == expected`, with evalplus's special oracles (MBPP: set equality for a few
   tasks, "is not None" for regex tasks, four tasks with a custom check; HumanEval/32 find_zero:
   |poly(xs, out)| <= atol), and where that fails and a tolerance applies, the same type, the
   same length for lists/tuples and `numpy.allclose(out, expected, rtol=1e-7, atol)`; the
   tolerance is the task's `atol`, or 1e-6 once an expected output of the set was a float
   (list/tuple of floats), and stays so for the rest of that set.

Here step 1 is one sandboxed run per task (`reference_program`; its outputs travel back as an
opaque base64 pickle that only the next sandboxed run opens), and steps 2-3 are a check program
(`check_program`) run with the candidate by `run_check_program`. Each test is one line of that
program, so the line the harness reports as failing names the failing test.
"""

from __future__ import annotations

import base64
import json
import pickle
import re
from typing import Any

from atlas_kernel.judging.timeouts import reference_limit, set_budget

# evalplus's special oracles, by entry point (its `_special_oracle.py`)
MBPP_SET_EQUAL = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
                  "intersection_array", "find_dissimilar", "Diff")
MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")

_OUT_MARK = "@@atlas-reference@@"


def reference_program(solution: str, entry_point: str, input_sets: list[list[Any]], *, not_none: bool) -> str:
    """A program that runs the reference on every input and prints the outputs (opaque) and the
    per-call times (JSON) after a marker line."""
    blob = base64.b64encode(pickle.dumps(input_sets)).decode("ascii")
    return f'''
import base64, copy, json, pickle, sys, time
_sets = pickle.loads(base64.b64decode({blob!r}))
_g = {{"__name__": "__reference__"}}
exec(compile({solution!r}, "<reference>", "exec"), _g)
_fn = _g[{entry_point!r}]
_outs, _times = [], []
for _inputs in _sets:
    _o, _t = [], []
    for _inp in _inputs:
        _inp = copy.deepcopy(_inp)
        _t0 = time.perf_counter()
        _r = _fn(*_inp)
        _t.append(time.perf_counter() - _t0)
        _o.append((_r is not None) if {not_none!r} else _r)
    _outs.append(_o)
    _times.append(_t)
sys.stdout.write("\\n{_OUT_MARK}\\n" + json.dumps(_times) + "\\n" + base64.b64encode(pickle.dumps(_outs)).decode() + "\\n")
'''


def parse_reference_output(stdout: str) -> tuple[list[list[float]], str]:
    """(per-set call times, the opaque outputs blob) from a reference run's stdout."""
    tail = stdout.rsplit(f"\n{_OUT_MARK}\n", 1)
    if len(tail) != 2:
        raise ValueError("the reference run printed no results")
    times_line, blob = tail[1].strip().split("\n", 1)
    return json.loads(times_line), blob.strip()


_CHECK_HEAD = '''
import base64 as _b64, math as _math, pickle as _pickle, signal as _sig, time as _time

_SETS = _pickle.loads(_b64.b64decode({inputs!r}))
_EXPECTED = _pickle.loads(_b64.b64decode({expected!r}))
_LIMITS = {limits!r}
_BUDGETS = {budgets!r}
_ATOL = {atol!r}
_FLAVOUR = {flavour!r}
_ENTRY = {entry!r}
_state = {{"outer": 0.0, "t0": 0.0, "deadline": 0.0, "atol": _ATOL}}


def _poly(xs, x):
    return sum(c * _math.pow(x, i) for i, c in enumerate(xs))


def _surface_area(base_edge, height):
    slant = _math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 2 * base_edge * slant)


def _digit_distance(a, b):
    sa, sb = str(a), str(b)
    n = max(len(sa), len(sb))
    return sum(abs(int(x) - int(y)) for x, y in zip(sa.zfill(n), sb.zfill(n)))


def _number(x):
    return isinstance(x, (bool, int, float, complex))


def _close(a, b, rtol, atol):
    # numpy.allclose on what evalplus compares: numbers, or equally long (nested) lists/tuples of them;
    # anything else makes numpy raise, which fails the test
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            raise ValueError("shapes differ")
        return all(_close(x, y, rtol, atol) for x, y in zip(a, b))
    if not (_number(a) and _number(b)):
        raise TypeError("not numeric")
    if a == b:
        return True
    if any(isinstance(v, float) and (_math.isinf(v) or _math.isnan(v)) for v in (a, b)):
        return False
    return abs(a - b) <= atol + rtol * abs(b)


def _floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _go(s, i):
    now = _time.monotonic()
    if i == 0:
        _state["deadline"] = now + _BUDGETS[s]
        _state["atol"] = _ATOL
    limit = min(_LIMITS[s][i], _state["deadline"] - now)
    _state["t0"] = now
    _state["outer"] = _sig.setitimer(_sig.ITIMER_REAL, max(limit, 1e-4))[0]


def _inp(s, i):
    return _SETS[s][i]


def _ok(s, i, out):
    _sig.setitimer(_sig.ITIMER_REAL, 0)
    if _state["outer"] > 0:  # the harness's own limit on the whole check goes on
        _sig.setitimer(_sig.ITIMER_REAL, max(_state["outer"] - (_time.monotonic() - _state["t0"]), 1e-4))
    try:
        return _judge(_SETS[s][i], _EXPECTED[s][i], out)
    except BaseException:
        return False


def _judge(inp, exp, out):
    exact = out == exp
    if _FLAVOUR == "mbpp":
        if _ENTRY == "are_equivalent":
            exact = True
        elif _ENTRY == "sum_div":
            exact = exact or out == 0
        elif _ENTRY == "surface_Area":
            exact = exact or abs(out - _surface_area(*inp)) <= _state["atol"]
        elif _ENTRY == "digit_distance_nums":
            exact = exact or out == _digit_distance(*inp)
        elif _ENTRY in {set_equal!r}:
            exact = set(out) == set(exp)
        elif _ENTRY in {not_none!r}:
            exact = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
    if _FLAVOUR == "humaneval" and _ENTRY == "find_zero":
        return abs(_poly(*inp, out)) <= _state["atol"]
    if _state["atol"] == 0 and _floats(exp):
        _state["atol"] = 1e-6
    if not exact and _state["atol"] != 0:
        if type(out) != type(exp):
            return False
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False
        return bool(_close(out, exp, 1e-07, _state["atol"]))
    return bool(exact)


def check(candidate):
'''

_TEST_LINE = re.compile(r"_go\((\d+), (\d+)\)")


def check_program(entry_point: str, input_sets: list[list[Any]], expected_blob: str, times: list[list[float]], *,
                  atol: float, flavour: str) -> tuple[str, float]:
    """(the check program, the wall time the whole check may take)."""
    limits = [[reference_limit(t) for t in ts] for ts in times]
    budgets = [set_budget(ls) for ls in limits]
    src = _CHECK_HEAD.format(inputs=base64.b64encode(pickle.dumps(input_sets)).decode("ascii"), expected=expected_blob,
                             limits=limits, budgets=budgets, atol=float(atol), flavour=flavour, entry=entry_point,
                             set_equal=MBPP_SET_EQUAL, not_none=MBPP_NOT_NONE)
    lines = [f"    _go({s}, {i}); _out = candidate(*_inp({s}, {i})); assert _ok({s}, {i}, _out)"
             for s, inputs in enumerate(input_sets) for i in range(len(inputs))]
    return src + "\n".join(lines or ["    pass"]) + "\n", sum(budgets) + 1.0


def failing_test(line: str, input_sets: list[list[Any]]) -> int | None:
    """The index (over all sets, in order) of the test a reported check line names."""
    m = _TEST_LINE.search(line or "")
    if not m:
        return None
    s, i = int(m.group(1)), int(m.group(2))
    return sum(len(x) for x in input_sets[:s]) + i
