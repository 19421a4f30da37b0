"""The pipeline's behaviour is pinned: a scripted-model solve (real sandbox, fixed seed) gives exactly
the stored trace, after normalising clocks, durations, temp paths and pids (tests/golden_trace.py)."""

import json

import pytest

from golden_trace import CASES, dumps, golden_path, solve


@pytest.mark.parametrize("condition", sorted(CASES))
def test_scripted_solve_reproduces_the_golden_trace(condition):
    expected = golden_path(condition).read_text(encoding="utf-8")
    got = dumps(solve(condition))
    if got != expected:
        # name the first differing part, so a failure says where behaviour moved
        want, have = json.loads(expected), json.loads(got)
        diff = [k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
        pytest.fail(f"condition {condition}: trace differs from {golden_path(condition).name} in {diff}")


def test_a_selection_event_keeps_the_ranking_it_announced():
    # S* reorders the state's ranking later; the recorded event must still show the one it chose from
    trace = solve("C")
    selections = [e["data"] for e in trace["events"] if e["kind"] == "selection"]
    assert selections and all(d["ranking"][0] == d["chosen"] for d in selections)
