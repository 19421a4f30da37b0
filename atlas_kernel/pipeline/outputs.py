"""What a candidate outputs on inputs that have no known answer (self-test inputs, S* inputs).

Used for agreement between candidates (self-test majority, MBR-exec, S*), never as a pass/fail
verdict, so it reads printed values directly: a stdio program's normalised stdout, or a
functional program's return value printed after a per-run random marker.
"""

from __future__ import annotations

import inspect
import json
import secrets
from typing import Any, Sequence

from atlas_kernel.problems.types import Problem
from atlas_kernel.sandbox import Job, Limits, get_sandbox

def _canon(x: Any) -> Any:
    """A returned value in a form that compares across programs (floats to 9 digits, tuples as
    lists, sets sorted). Its source also runs inside the sandboxed driver below, so the claimed
    outputs of self-tests (claimed_output) and the candidates' outputs are canonicalised alike."""
    if isinstance(x, float):
        return float("%.9g" % x)
    if isinstance(x, (list, tuple)):
        return [_canon(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _canon(v) for k, v in x.items()}
    if isinstance(x, set):
        return sorted((_canon(v) for v in x), key=repr)
    return x


_DRIVER = r'''
import json as __j, sys as __s
{canon}def __call(expr, args_json):
    if expr is not None:
        return eval(expr, globals())
    args = [__j.loads(line) for line in args_json.splitlines() if line.strip()]
    target = {target}
    return target(*args)
for __i, (__e, __a) in enumerate(__CASES):
    try:
        __r = repr(__canon(__call(__e, __a)))
    except BaseException as __x:
        __r = None
    __s.stdout.write("\n{marker}" + __j.dumps([__i, __r]) + "\n")
    __s.stdout.flush()
'''


# the driver's __canon is _canon's own source (no annotations: the candidate's module may shadow Any)
_CANON_SOURCE = "def __canon(x):\n" + inspect.getsource(_canon).split('"""', 2)[2].replace("_canon(", "__canon(").lstrip("\n")


def claimed_output(problem: Problem, claimed: str | None) -> str | None:
    """A functional test's claimed result (source text after `==`, e.g. "[1, 2]") in the form
    `collect_outputs` reports a return value, or None when it is not a plain literal."""
    import ast

    if claimed is None or problem.kind != "functional":
        return None
    try:
        return repr(_canon(ast.literal_eval(claimed)))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def normalise_stdout(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _functional_program(problem: Problem, code: str, inputs: Sequence[str], marker: str) -> str:
    if problem.io_format == "python":
        cases = [(inp, None) for inp in inputs]
    else:
        cases = [(None, inp) for inp in inputs]
    target = (f"{problem.class_name}().{problem.entry_point}" if problem.class_name else problem.entry_point)
    driver = (_DRIVER.replace("{canon}", _CANON_SOURCE).replace("{target}", target or "None")
              .replace("{marker}", marker))
    return f"{code}\n\n__CASES = {cases!r}\n{driver}"


def collect_outputs(problem: Problem, codes: Sequence[str], inputs: Sequence[str], *, timeout_s: float = 6.0,
                    sandbox: Any = None) -> list[list[str | None]]:
    """outputs[c][i]: candidate c's output on input i, None where it failed or timed out."""
    if not codes or not inputs:
        return [[None] * len(inputs) for _ in codes]
    sandbox = sandbox or get_sandbox()
    limits = Limits(timeout_s=timeout_s)
    if problem.kind == "stdio":
        jobs = [Job(code, inp if inp.endswith("\n") else inp + "\n", limits) for code in codes for inp in inputs]
        results = sandbox.run_many(jobs)
        out: list[list[str | None]] = []
        for ci in range(len(codes)):
            row = []
            for ii in range(len(inputs)):
                r = results[ci * len(inputs) + ii]
                row.append(normalise_stdout(r.stdout) if r.status == "ok" else None)
            out.append(row)
        return out
    marker = "@@atlas-" + secrets.token_hex(6) + "@@"
    # one process per candidate runs all inputs; a per-run budget scaled by the input count
    jobs = [Job(_functional_program(problem, code, inputs, marker), "",
                Limits(timeout_s=timeout_s * max(1, len(inputs)) / 2)) for code in codes]
    results = sandbox.run_many(jobs)
    out = []
    for r in results:
        row: list[str | None] = [None] * len(inputs)
        for line in r.stdout.splitlines():
            if line.startswith(marker):
                try:
                    i, val = json.loads(line[len(marker):])
                except (ValueError, TypeError):
                    continue
                if isinstance(i, int) and 0 <= i < len(inputs):
                    row[i] = val
        out.append(row)
    return out
