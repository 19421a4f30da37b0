"""Test runners: run a candidate program on test cases in the sandbox and decide each verdict.

Three shapes of test, one verdict type:

* `run_stdio_tests`      - one process per test: `input` on stdin, stdout compared with
                           `compare.stdio_mismatch` (LiveCodeBench rules). Tests run in parallel.
* `run_functional_tests` - all tests of one program in ONE process: the harness loads the code,
                           calls the entry point per test under a per-test alarm, compares inside
                           the process and sends results over the sentinel channel (never stdout).
* `run_check_program`    - HumanEval: candidate + check program, `check(entry_point)`; passes only
                           when the sentinel arrives after `check` returned.

A verdict is "passed" only when the run's success sentinel was seen: a program that exits early
(`sys.exit(0)`, `os._exit(0)`) before its checks ran never passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal

from atlas_kernel.judging.compare import stdio_mismatch
from atlas_kernel.judging.verdicts import TestVerdict, Verdict
from atlas_kernel.judging.verdicts import truncate as _trunc
from atlas_kernel.sandbox import Limits, RunResult, Sandbox, get_sandbox

if TYPE_CHECKING:
    from atlas_kernel.problems.types import TestCase

_LOAD_SLACK_S = 1.0  # beyond the sum of per-test limits: interpreter start, loading the code


# ------------------------------------------------------------------ helpers --

def _run(sb: Sandbox, wire: dict[str, Any]) -> RunResult:
    return sb.run_wire_many([wire])[0]  # (a run whose server died is retried once by the Sandbox)


def _status_verdict(r: RunResult, index: int, t: "TestCase | None", per_test: float | None = None) -> TestVerdict:
    """Verdict for a run that did not reach the comparison."""
    v: Verdict
    if r.status in ("timeout", "memory_exceeded", "output_limit", "compile_error", "sandbox_error"):
        v = r.status  # type: ignore[assignment]
    else:
        v = "runtime_error"
    msg = r.message
    if v == "timeout" and per_test is not None and "wall time" in msg:
        msg = f"time limit exceeded ({per_test:g}s)"
    details = next((str(e.get("tb", "")) for e in r.reports if e.get("tb")), "") or r.stderr[-1500:]
    return TestVerdict(verdict=v, index=index, input=_trunc(t.input) if t else "",
                       expected=_trunc(t.output) if t else "", actual=_trunc(r.stdout) if r.stdout else "",
                       message=msg, wall_s=r.wall_s, details=details)


def _stdio_verdict(r: RunResult, index: int, t: "TestCase") -> TestVerdict:
    if r.status != "ok":
        return _status_verdict(r, index, t)
    why = stdio_mismatch(r.stdout, t.output)
    return TestVerdict(verdict="passed" if why is None else "wrong_answer", index=index, input=_trunc(t.input),
                       expected=_trunc(t.output), actual=_trunc(r.stdout), message=why or "", wall_s=r.wall_s)


# ------------------------------------------------------------------ stdio ----

def run_stdio_tests(
    code: str,
    tests: Sequence["TestCase"],
    limits: Limits | None = None,
    stop_on_first_failure: bool = False,
    *,
    lcb_prelude: bool = False,
    sandbox: Sandbox | None = None,
) -> list[TestVerdict]:
    """One fresh process per test, in parallel; `limits` apply to each test's process.

    With `stop_on_first_failure` the list ends at the first failing test (tests after it that
    were already running are discarded). `lcb_prelude=True` runs the program after
    LiveCodeBench's block of star imports (LiveCodeBench's own stdio grader does that)."""
    if not tests:
        return []
    sb = sandbox or get_sandbox()
    lim = limits or sb.limits
    wires = [sb._wire(code, t.input, lim, prelude=lcb_prelude) for t in tests]
    verdicts: list[TestVerdict] = []
    # the first wave tells whether the code compiles at all: then no further process is started
    first = min(len(tests), sb.workers)
    for i, r in enumerate(sb.run_wire_many(wires[:first])):
        verdicts.append(_stdio_verdict(r, i, tests[i]))
    if verdicts[0].verdict == "compile_error":
        msg, det = verdicts[0].message, verdicts[0].details
        return [TestVerdict("compile_error", i, _trunc(t.input), _trunc(t.output), "", msg, 0.0, det)
                for i, t in enumerate(tests)]
    if stop_on_first_failure:
        bad = next((k for k, v in enumerate(verdicts) if not v.passed), None)
        if bad is not None:
            return verdicts[: bad + 1]
    futures: list[Future[RunResult]] = [sb.submit_wire(w) for w in wires[first:]]
    try:
        for k, f in enumerate(futures):
            i = first + k
            r = f.result()
            verdicts.append(_stdio_verdict(r, i, tests[i]))
            if stop_on_first_failure and not verdicts[-1].passed:
                break
    finally:
        for f in futures:
            f.cancel()  # no-op for finished/running ones
    return verdicts


# ------------------------------------------------------------------ functional

def run_functional_tests(
    code: str,
    tests: Sequence["TestCase"],
    entry_point: str,
    class_name: str | None = None,
    io_format: Literal["json", "python"] = "json",
    limits: Limits | None = None,
    stop_on_first_failure: bool = False,
    *,
    per_test_timeout: float | None = None,
    lcb_prelude: bool | None = None,
    sandbox: Sandbox | None = None,
) -> list[TestVerdict]:
    """All tests in one process (a fresh one again only if a test kills the process).

    io_format "json" (LiveCodeBench): `input` = one JSON value per line (positional args),
    `output` = JSON of the return value; compared with `compare.functional_equal`.
    `class_name` (e.g. "Solution"): one instance is created and `entry_point` is its method.
    io_format "python" (HumanEval doctests): `input` is an expression such as
    "round(find_zero([1, 2]), 2)" and `output` a literal, both evaluated in the program's
    namespace; compared with `compare.python_equal` (floats within 1e-6 rel/abs).

    Time: `per_test_timeout` (default `limits.timeout_s`) per test, by an alarm inside the
    process; the process as a whole gets per_test x tests + 1 s of wall (and CPU) time.
    `lcb_prelude` (default: True for "json") runs LiveCodeBench's star imports first, so that
    e.g. `List` or `Counter` work without an import, as in LiveCodeBench.
    """
    if io_format not in ("json", "python"):
        raise ValueError(f"io_format must be 'json' or 'python', got {io_format!r}")
    if not tests:
        return []
    sb = sandbox or get_sandbox()
    lim = limits or sb.limits
    per_test = float(per_test_timeout if per_test_timeout is not None else lim.timeout_s)
    prelude = (io_format == "json") if lcb_prelude is None else lcb_prelude
    verdicts: dict[int, TestVerdict] = {}
    todo = list(range(len(tests)))
    while todo:
        wall = per_test * (len(todo) + 1) + _LOAD_SLACK_S  # +1: loading the module has the same limit
        wire = sb._wire(code, "", lim, kind="functional", timeout_s=wall,
                        tests=[(i, (tests[i].input, tests[i].output)) for i in todo],
                        entry_point=entry_point, class_name=class_name, io_format=io_format, prelude=prelude,
                        per_test_timeout=per_test, load_timeout=per_test,
                        stop_on_first_failure=stop_on_first_failure)
        r = _run(sb, wire)
        load_err = next((e for e in r.reports if e.get("ev") == "load_error"), None)
        if r.status == "compile_error" or load_err is not None:
            if r.status == "compile_error":
                v, msg = "compile_error", r.message
                det = next((str(e.get("tb", "")) for e in r.reports if e.get("ev") == "compile_error"), "")
            else:
                v, msg, det = load_err.get("verdict", "runtime_error"), load_err.get("msg", ""), load_err.get("tb", "")
            for i in todo:
                verdicts[i] = TestVerdict(v, i, _trunc(tests[i].input), _trunc(tests[i].output), "",  # type: ignore[arg-type]
                                          msg, 0.0, det)
            break
        for e in r.reports:
            if e.get("ev") == "test" and e.get("i") in todo:
                i = int(e["i"])
                verdicts[i] = TestVerdict(e["verdict"], i, _trunc(tests[i].input), _trunc(tests[i].output),
                                          e.get("actual", ""), e.get("msg", ""), float(e.get("wall", 0.0)),
                                          e.get("tb", ""))
        todo = [i for i in todo if i not in verdicts]
        if not todo or r.completed:
            break  # completed: the harness ran every test it meant to (maybe stopping at a failure)
        # the process died during test todo[0] (the harness reports tests in order)
        verdicts[todo[0]] = _status_verdict(r, todo[0], tests[todo[0]], per_test)
        verdicts[todo[0]].actual = ""
        todo = todo[1:]
        if stop_on_first_failure:
            break
    out = [verdicts[i] for i in sorted(verdicts)]
    if stop_on_first_failure:
        bad = next((k for k, v in enumerate(out) if not v.passed), None)
        if bad is not None:
            out = out[: bad + 1]
    return out


# ------------------------------------------------------------------ HumanEval

def run_check_program(
    code: str,
    check_program: str,
    entry_point: str,
    limits: Limits | None = None,
    *,
    sandbox: Sandbox | None = None,
) -> TestVerdict:
    """HumanEval style: `code`, then `check_program` in the same namespace, then
    `check(<entry_point>)` under `limits.timeout_s`. Passed only if the success sentinel is
    written after `check` returned; an AssertionError is a wrong_answer whose `input` is the
    failing assert line of the check program."""
    sb = sandbox or get_sandbox()
    lim = limits or sb.limits
    wire = sb._wire(code, "", lim, kind="check", timeout_s=lim.timeout_s + _LOAD_SLACK_S,
                    check_program=check_program, entry_point=entry_point, per_test_timeout=lim.timeout_s,
                    load_timeout=lim.timeout_s)
    r = _run(sb, wire)
    ev = next((e for e in r.reports if e.get("ev") == "check"), None)
    load_err = next((e for e in r.reports if e.get("ev") == "load_error"), None)
    if r.status == "compile_error":
        # which file failed: the candidate's or the (trusted) check program's
        det = next((str(e.get("tb", "")) for e in r.reports if e.get("ev") == "compile_error"), "")
        return TestVerdict("compile_error", 0, message=r.message, wall_s=r.wall_s, details=det)
    if load_err is not None:
        return TestVerdict(load_err.get("verdict", "runtime_error"), 0, message=load_err.get("msg", ""),
                           wall_s=r.wall_s, details=load_err.get("tb", ""))
    if ev is not None and r.completed and ev.get("verdict") == "passed":
        return TestVerdict("passed", 0, wall_s=float(ev.get("wall", r.wall_s)))
    if ev is not None and ev.get("verdict") != "passed":
        return TestVerdict(ev["verdict"], 0, input=_trunc(ev.get("line") or ""), message=ev.get("msg", ""),
                           wall_s=float(ev.get("wall", r.wall_s)), details=ev.get("tb", ""))
    v = _status_verdict(r, 0, None, lim.timeout_s)
    if v.verdict == "runtime_error" and ev is not None:  # "passed" was sent but the sentinel never came
        v.message = "the program did not complete after check() returned"
    return v
