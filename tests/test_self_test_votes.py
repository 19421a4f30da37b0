"""Who decides a self-test's expected output, and how CodeT's dual agreement ranks candidates."""

from types import SimpleNamespace

from atlas_kernel.pipeline.checks import TestVerdict
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.phases.self_tests import decide, evaluate, reevaluate
from atlas_kernel.pipeline.selectors import codet
from atlas_kernel.pipeline.state import Candidate, SelfTest, SolveState
from atlas_kernel.problems.types import Problem, TestCase

PROBLEM = Problem(id="p", statement="Add one.", kind="functional", entry_point="f", io_format="python",
                  starter_code="def f(x):\n", public_tests=[TestCase("f(1)", "2")])


def _cand(i: int, out: str, passes_public: bool = True) -> Candidate:
    verdict = TestVerdict("passed" if passes_public else "wrong_answer", 0)
    # distinct code per candidate: identical programs count as one vote
    return Candidate(id=f"c{i}", code=f"def f(x):\n    return x + 1  # {i}\n", origin="div", public=[verdict],
                     self_outputs={0: out})


def test_an_even_split_keeps_no_self_test():
    t = SelfTest(input="f(5)")
    decide([t], [["6"], ["6"], ["7"], ["7"]])
    assert not t.kept and t.expected is None


def test_a_clear_majority_is_kept():
    t = SelfTest(input="f(5)")
    decide([t], [["6"], ["6"], ["6"], ["7"]])
    assert t.kept and t.expected == "6"


def test_candidates_failing_public_examples_do_not_vote():
    state = SolveState(PROBLEM)
    state.candidates = [_cand(0, "6"), _cand(1, "6"), _cand(2, "9", False), _cand(3, "9", False), _cand(4, "9", False)]
    state.self_tests = [SelfTest(input="f(5)")]
    ctx = SimpleNamespace(state=state, problem=PROBLEM, config=PipelineConfig(), sandbox=None)
    evaluate(ctx, state.candidates)  # every output is known already: no program runs
    assert state.self_tests[0].kept and state.self_tests[0].expected == "6"
    assert state.self_test_voters == "passing public examples"


def test_everyone_votes_when_no_candidate_passes_the_public_examples():
    state = SolveState(PROBLEM)
    state.candidates = [_cand(0, "6", False), _cand(1, "9", False), _cand(2, "9", False)]
    state.self_tests = [SelfTest(input="f(5)")]
    evaluate(SimpleNamespace(state=state, problem=PROBLEM, config=PipelineConfig(), sandbox=None), state.candidates)
    assert state.self_tests[0].expected == "9" and state.self_test_voters.startswith("all")


def test_codet_scores_consensus_sets_by_size_times_tests_passed():
    state = SolveState(PROBLEM)
    # two candidates return what the model claimed (f(5) == 6), three agree on something else
    state.candidates = [_cand(0, "7"), _cand(1, "7"), _cand(2, "7"), _cand(3, "6"), _cand(4, "6")]
    state.self_tests = [SelfTest(input="f(5)", model_expected="6")]
    ranking, reason = codet(state)
    # {c3, c4} pass the claimed test: 2 x 1 = 2 beats {c0, c1, c2} passing no generated test: 3 x 0
    assert ranking[0] == "c3" and set(ranking[:2]) == {"c3", "c4"}
    assert "dual agreement 2" in reason


def test_a_claimed_output_compares_equal_to_the_same_value_returned_in_the_sandbox():
    from atlas_kernel.pipeline.outputs import claimed_output, collect_outputs

    code = "def f(x):\n    return (x / 3, {x, 1})\n"
    [[out]] = collect_outputs(PROBLEM, [code], ["f(1)"])
    assert out is not None and out == claimed_output(PROBLEM, "[0.333333333333, [1]]")
    assert claimed_output(PROBLEM, "not a literal") is None


class _Recorder(SimpleNamespace):
    def emit(self, kind, phase, **data):
        self.events.append((kind, phase, data))


def test_a_repair_that_changes_the_self_test_decision_says_so_in_the_trace():
    state = SolveState(PROBLEM)
    # 1-1 among public-passing candidates: no test kept; a repaired candidate then passes the
    # public example and agrees with c0, so the test is now kept — the trace must show it
    state.candidates = [_cand(0, "6"), _cand(1, "7"), _cand(2, "9", False)]
    state.self_tests = [SelfTest(input="f(5)")]
    ctx = _Recorder(state=state, problem=PROBLEM, config=PipelineConfig(), sandbox=None, events=[])
    evaluate(ctx, state.candidates)
    assert not state.self_tests[0].kept
    repaired = _cand(3, "6")
    state.candidates.append(repaired)
    reevaluate(ctx, "repair", [repaired])
    assert state.self_tests[0].kept and state.self_tests[0].expected == "6"
    [(kind, phase, data)] = ctx.events
    assert (kind, phase, data["redecided"], data["kept"]) == ("self_tests", "repair", True, 1)
    reevaluate(ctx, "repair", [repaired])  # nothing changes: nothing more is said
    assert len(ctx.events) == 1


def test_codet_scores_only_generated_tests_so_a_big_set_failing_them_does_not_win():
    state = SolveState(PROBLEM)
    # three copies agreeing on a wrong f(5) pass the public example only; one candidate also passes
    # the model's claimed f(5) == 6. Counting the public example in the score gave 3 x 1 = 3 against
    # 1 x 2 = 2; over generated tests it is 0 against 1
    state.candidates = [_cand(0, "7"), _cand(1, "7"), _cand(2, "7"), _cand(3, "6")]
    state.self_tests = [SelfTest(input="f(5)", model_expected="6")]
    ranking, reason = codet(state)
    assert ranking[0] == "c3" and "1 candidates x 1 generated tests" in reason
