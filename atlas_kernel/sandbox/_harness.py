"""Drivers that run *inside* the sandboxed child, around the untrusted code.

Loaded by path into the fork server (stdlib only, no atlas_kernel imports).
Every driver ends with ``os._exit``: the child is a fork of the server, so it
must never unwind back into the server's frames.

Results travel over the report pipe as lines ``<nonce> <json>``; the server
keeps only lines carrying this run's nonce. ``{"ev": "done"}`` is the success
sentinel: it is written only after the program (or the checks) finished, so a
program that calls ``os._exit(0)``/``sys.exit(0)`` early never produces it.
"""

from __future__ import annotations

import builtins
import json
import linecache
import math
import os
import signal
import sys
import threading
import time
import traceback
import types
from typing import Any, Callable, NoReturn

_THIS_FILE = __file__
TRUNC = 300  # characters kept of inputs/outputs in per-test reports

# LiveCodeBench's call-based grader execs the candidate after a block of star
# imports (so e.g. `List`, `Counter`, `sqrt` work without an import) and raises
# the recursion limit. Reproducing the same names keeps our verdicts in line.
_LCB_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
                "statistics", "itertools", "functools", "operator", "io", "sys", "json", "typing")
LCB_PRELUDE = (
    "".join(f"from {m} import *\n" for m in _LCB_MODULES)
    + "from builtins import *\n"
    + "".join(f"import {m}\n" for m in _LCB_MODULES)
    + "sys.setrecursionlimit(50000)\n"
)
# What the fork server imports up front (shared copy-on-write by every run, so e.g. `from typing
# import List` costs nothing): the LiveCodeBench prelude's modules and what they pull in. Kept
# small on purpose: fork and exit cost grows with the server's resident size.
PRELOAD_MODULES = _LCB_MODULES + ("decimal", "fractions", "numbers")

FLOAT_REL_TOL = 1e-6  # "python" io_format (HumanEval doctests): float tolerance
FLOAT_ABS_TOL = 1e-6


class HarnessTimeout(BaseException):
    """Raised by the per-test alarm; a BaseException so `except Exception` in user code lets it pass."""


class Reporter:
    def __init__(self, fd: int, nonce: str) -> None:
        self._fd = fd
        self._nonce = nonce

    def send(self, obj: dict[str, Any]) -> None:
        line = (self._nonce + " " + json.dumps(obj, default=repr) + "\n").encode()
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]


def _trunc(s: str, n: int = TRUNC) -> str:
    return s if len(s) <= n else s[: n // 2] + f"...({len(s) - n} chars truncated)..." + s[-n // 2:]


def _safe_repr(x: Any) -> str:
    try:
        return _trunc(repr(x))
    except BaseException as e:  # a hostile __repr__ must not break reporting
        return f"<unrepresentable {type(x).__name__}: {type(e).__name__}>"


def _as_json(x: Any) -> str:
    try:
        return _trunc(json.dumps(x))
    except BaseException:
        return _safe_repr(x)


def _user_tb(tb: types.TracebackType | None) -> types.TracebackType | None:
    # drop the harness's own frames so tracebacks start at the user's code
    while tb is not None and tb.tb_frame.f_code.co_filename == _THIS_FILE:
        tb = tb.tb_next
    return tb


def format_exc(e: BaseException, limit_chars: int = 2000) -> str:
    text = "".join(traceback.format_exception(type(e), e, _user_tb(e.__traceback__)))
    return text if len(text) <= limit_chars else "..." + text[-limit_chars:]


def last_line(e: BaseException) -> str:
    lines = traceback.format_exception_only(type(e), e)
    return _trunc(lines[-1].strip() if lines else type(e).__name__, 500)


def _register_source(filename: str, source: str) -> None:
    # lets tracebacks show the offending line of exec'd code
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _flush_std() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except BaseException:
            pass


class _Quitter:
    """`exit()`/`quit()` as `site` would define them (the server runs with -S)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"

    def __call__(self, code: Any = None) -> NoReturn:
        raise SystemExit(code)


def prepare_server_interpreter(extra_path: list[str]) -> None:
    """Once, in the fork server: the std streams every child will use on its fds 0-2 (the
    server itself never writes to them), exit/quit builtins, argv and sys.path."""
    sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="surrogateescape", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
                                       buffering=1)
    sys.argv = ["main.py"]
    # a virtualenv's bin/ may sit in a directory the sandbox hides (e.g. a checkout under /tmp,
    # which becomes a private tmpfs): point sys.executable at the real interpreter so programs
    # that start `sys.executable` still find it
    real = os.path.realpath(sys.executable)
    if real and real != sys.executable:
        sys.executable = real
    sys.path[:] = [p for p in sys.path if p] + list(extra_path)
    builtins.exit = _Quitter("exit")  # type: ignore[attr-defined]
    builtins.quit = _Quitter("quit")  # type: ignore[attr-defined]


def fresh_main() -> dict[str, Any]:
    """Per run: a fresh __main__ module; returns its globals."""
    mod = types.ModuleType("__main__")
    mod.__dict__["__builtins__"] = builtins
    mod.__dict__["__file__"] = "main.py"
    sys.modules["__main__"] = mod
    return mod.__dict__


def _end(code: int) -> NoReturn:
    _flush_std()
    os._exit(code)


def _compile(rep: Reporter, source: str, filename: str) -> types.CodeType | None:
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
        # ValueError: NUL bytes in source; RecursionError/MemoryError: absurd nesting
        rep.send({"ev": "compile_error", "msg": last_line(e), "tb": format_exc(e)})
        return None


class _Alarm:
    """Per-test wall-clock limit via SIGALRM (the child is PID 1 of its namespace, so
    it needs a real handler: default-action signals are ignored by a namespace init)."""

    def __init__(self) -> None:
        signal.signal(signal.SIGALRM, self._fire)

    @staticmethod
    def _fire(signum: int, frame: Any) -> None:
        raise HarnessTimeout()

    def start(self, seconds: float) -> None:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))

    @staticmethod
    def stop() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _classify(e: BaseException, timeout_s: float) -> tuple[str, str]:
    if isinstance(e, HarnessTimeout):
        return "timeout", f"time limit exceeded ({timeout_s:g}s)"
    if isinstance(e, MemoryError):
        return "memory_exceeded", last_line(e)
    if isinstance(e, SystemExit):
        return "runtime_error", f"program called exit({e.code!r}) before the tests finished"
    if isinstance(e, RecursionError):
        return "runtime_error", last_line(e)
    return "runtime_error", last_line(e)


# ------------------------------------------------------------------ drivers --

def drive_script(rep: Reporter, job: dict[str, Any], g: dict[str, Any]) -> NoReturn:
    """Run `code` as a program; `done` once it ended cleanly (fell off the end or exit(0))."""
    code = _compile(rep, job["code"], "<solution>")
    if code is None:
        _end(1)
    _register_source("<solution>", job["code"])
    exit_code = 0
    try:
        if job.get("prelude"):
            exec(compile(LCB_PRELUDE, "<prelude>", "exec", dont_inherit=True), g)
        exec(code, g)
    except SystemExit as e:
        if e.code is None:
            exit_code = 0
        elif isinstance(e.code, int):
            exit_code = e.code & 0xFF
        else:  # like the interpreter: print a non-int exit argument, status 1
            _flush_std()
            print(e.code, file=sys.stderr)
            exit_code = 1
    except BaseException as e:
        _flush_std()
        sys.stderr.write(format_exc(e, 8000))
        ev = "memory" if isinstance(e, MemoryError) else "exception"
        try:
            rep.send({"ev": ev, "msg": last_line(e)})
        finally:
            _end(1)
    # imitate interpreter shutdown: wait for non-daemon threads, run atexit hooks
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        import atexit
        atexit._run_exitfuncs()
    except BaseException as e:
        sys.stderr.write(format_exc(e))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException as e:  # e.g. file size limit on a redirected stream
        rep.send({"ev": "exception", "msg": last_line(e)})
        os._exit(1)
    if exit_code == 0:
        rep.send({"ev": "done"})
    os._exit(exit_code)


def _load_program(rep: Reporter, job: dict[str, Any], g: dict[str, Any], alarm: _Alarm,
                  prelude: str | None) -> bool:
    code = _compile(rep, job["code"], "<solution>")
    if code is None:
        return False
    _register_source("<solution>", job["code"])
    timeout = float(job.get("load_timeout", 10.0))
    try:
        if prelude:
            exec(compile(prelude, "<prelude>", "exec", dont_inherit=True), g)
        alarm.start(timeout)
        try:
            exec(code, g)
        finally:
            alarm.stop()
    except BaseException as e:
        verdict, msg = _classify(e, timeout)
        rep.send({"ev": "load_error", "verdict": verdict, "msg": msg, "tb": format_exc(e)})
        return False
    return True


def _resolve(g: dict[str, Any], entry_point: str, class_name: str | None) -> Callable[..., Any]:
    if class_name:
        if class_name not in g:
            raise LookupError(f"class {class_name!r} is not defined")
        return getattr(g[class_name](), entry_point)
    if entry_point in g:
        return g[entry_point]
    # LeetCode-style answer without a class_name hint: LiveCodeBench instantiates `Solution`
    sol = g.get("Solution")
    if isinstance(sol, type) and hasattr(sol, entry_point):
        return getattr(sol(), entry_point)
    raise LookupError(f"function {entry_point!r} is not defined")


def approx_equal(a: Any, b: Any) -> bool:
    """== except that floats match within FLOAT_REL_TOL/FLOAT_ABS_TOL (recursively in lists,
    tuples and dict values; containers must be of the same kind, as with ==)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and (isinstance(a, float) or isinstance(b, float)):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(approx_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(approx_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def lcb_call_equal(actual: Any, expected: Any) -> bool:
    """LiveCodeBench call-based rule: a returned tuple counts as a list (top level only, as
    in LiveCodeBench), then plain ==. No float tolerance (1 == 1.0 holds, 0.1+0.2 != 0.3)."""
    if isinstance(actual, tuple):
        actual = list(actual)
    return bool(actual == expected)


def drive_functional(rep: Reporter, job: dict[str, Any], g: dict[str, Any]) -> NoReturn:
    """All tests of one program in this process; one `test` event per test, then `done`."""
    fmt = job["io_format"]
    alarm = _Alarm()
    prelude = LCB_PRELUDE if job.get("prelude") else None
    if not _load_program(rep, job, g, alarm, prelude):
        _end(1)
    try:
        fn = _resolve(g, job["entry_point"], job.get("class_name"))
    except BaseException as e:
        rep.send({"ev": "load_error", "verdict": "runtime_error", "msg": last_line(e), "tb": format_exc(e)})
        _end(1)
    per_test = float(job["per_test_timeout"])
    stop_first = bool(job.get("stop_on_first_failure"))
    for i, (inp, out) in job["tests"]:
        ev: dict[str, Any] = {"ev": "test", "i": i}
        # parse the test outside the timed region: bad test data is not the program's fault
        try:
            if fmt == "json":
                args = [json.loads(line) for line in inp.split("\n") if line.strip()]
                expected = json.loads(out)
                call: Callable[[], Any] = lambda: fn(*args)  # noqa: E731
            else:
                expr = compile(inp, "<test>", "eval", dont_inherit=True)
                expected = eval(compile(out, "<expected>", "eval", dont_inherit=True), g)
                call = lambda: eval(expr, g)  # noqa: E731
        except BaseException as e:
            ev.update(verdict="runtime_error", msg=f"bad test case: {last_line(e)}", wall=0.0)
            rep.send(ev)
            if stop_first:
                break
            continue
        t0 = time.perf_counter()
        try:
            alarm.start(per_test)
            try:
                actual = call()
                ok = lcb_call_equal(actual, expected) if fmt == "json" else approx_equal(actual, expected)
            finally:
                alarm.stop()
            ev.update(verdict="passed" if ok else "wrong_answer",
                      actual=_as_json(actual) if fmt == "json" else _safe_repr(actual))
            if not ok:
                ev["msg"] = "wrong answer"
        except BaseException as e:
            verdict, msg = _classify(e, per_test)
            ev.update(verdict=verdict, msg=msg)
            if verdict == "runtime_error":
                ev["tb"] = format_exc(e)
        ev["wall"] = time.perf_counter() - t0
        rep.send(ev)
        if stop_first and ev["verdict"] != "passed":
            break
    rep.send({"ev": "done"})
    _end(0)


def _failing_check_line(e: BaseException) -> str | None:
    tb = e.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<check>":
            line = linecache.getline("<check>", tb.tb_lineno).strip() or None
        tb = tb.tb_next
    return line


def drive_check(rep: Reporter, job: dict[str, Any], g: dict[str, Any]) -> NoReturn:
    """HumanEval: candidate code + check program in one namespace, then check(entry_point)."""
    alarm = _Alarm()
    if not _load_program(rep, job, g, alarm, None):
        _end(1)
    check_src = job["check_program"]
    try:
        check_code = compile(check_src, "<check>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
        # a broken check program is not the candidate's fault: say so instead of compile_error
        rep.send({"ev": "load_error", "verdict": "runtime_error", "msg": f"check program: {last_line(e)}",
                  "tb": format_exc(e)})
        _end(1)
    _register_source("<check>", check_src)
    timeout = float(job["per_test_timeout"])
    t0 = time.perf_counter()
    ev: dict[str, Any] = {"ev": "check"}
    try:
        alarm.start(timeout)
        try:
            exec(check_code, g)
            candidate = g[job["entry_point"]] if job["entry_point"] in g else _resolve(g, job["entry_point"], None)
            g["check"](candidate)
        finally:
            alarm.stop()
        ev.update(verdict="passed")
    except AssertionError as e:
        ev.update(verdict="wrong_answer", msg=last_line(e), line=_failing_check_line(e), tb=format_exc(e))
    except BaseException as e:
        verdict, msg = _classify(e, timeout)
        ev.update(verdict=verdict, msg=msg, line=_failing_check_line(e))
        if verdict == "runtime_error":
            ev["tb"] = format_exc(e)
    ev["wall"] = time.perf_counter() - t0
    rep.send(ev)
    if ev["verdict"] == "passed":
        rep.send({"ev": "done"})
    _end(0 if ev["verdict"] == "passed" else 1)


def drive_compile(rep: Reporter, job: dict[str, Any], g: dict[str, Any]) -> NoReturn:
    if _compile(rep, job["code"], "<solution>") is None:
        _end(1)
    rep.send({"ev": "done"})
    _end(0)


DRIVERS: dict[str, Callable[[Reporter, dict[str, Any], dict[str, Any]], NoReturn]] = {
    "script": drive_script,
    "functional": drive_functional,
    "check": drive_check,
    "compile": drive_compile,
}
