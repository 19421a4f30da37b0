"""MBPP / MBPP+ style JSONL, user-supplied (`--suite mbpp:FILE.jsonl`).

One JSON object per line:

    {"task_id": 11,                                  # int or str; ints become "mbpp/11"
     "text": "Write a python function to ...",      # the statement ("prompt" is accepted instead)
     "code": "def remove_Occ(s, ch): ...",           # reference solution: never shown to the solver,
                                                     #   read only for the function's name
     "test_list": ["assert remove_Occ(\\"hello\\",\\"l\\") == \\"heo\\"", ...],
     "test_setup_code": "",                          # optional, runs before the asserts
     "challenge_test_list": [],                      # optional, graded only when asked for
     "entry_point": "remove_Occ"}                    # optional (MBPP+), else inferred

Public/hidden split (MBPP's usual scoring):
  * the FIRST assert of `test_list` is shown: it is quoted in the statement, and when it has
    the shape `assert f(args) == <literal>` it also becomes a public example the pipeline runs;
  * the hidden check counts exactly the asserts of `test_list`, all of them, the shown one
    included (that is how MBPP is scored everywhere): setup code, then `def check(candidate):`
    running the asserts, held only by the grader;
  * `challenge_test_list` asserts join the check only when asked for (`challenge=True`, suite
    spec `mbpp-challenge:FILE`).

Bad lines raise `ProblemFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import ast
import builtins
import textwrap
from pathlib import Path
from typing import Any

from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase

_BUILTINS = set(dir(builtins))


def _called_names(src: str) -> list[str]:
    tree = ast.parse(src)
    return [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


def _defined_functions(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _entry_point(row: dict[str, Any], tests: list[str]) -> str | None:
    if isinstance(row.get("entry_point"), str) and row["entry_point"].strip():
        return row["entry_point"].strip()
    called = [name for t in tests for name in _called_names(t)]
    # the reference's top-level definitions that the tests call: the function to write
    for name in _defined_functions(row.get("code") or ""):
        if name in called:
            return name
    return next((name for name in called if name not in _BUILTINS), None)


def public_case(assert_src: str, entry_point: str) -> TestCase | None:
    """`assert f(args) == literal` -> TestCase(input="f(args)", output="literal") (io_format python)."""
    try:
        node = ast.parse(assert_src).body[0]
    except (SyntaxError, IndexError):
        return None
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return None
    cmp = node.test
    if len(cmp.ops) != 1 or not isinstance(cmp.ops[0], ast.Eq):
        return None
    left, right = cmp.left, cmp.comparators[0]
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == entry_point):
        return None
    call, expected = ast.get_source_segment(assert_src, left), ast.get_source_segment(assert_src, right)
    if call is None or expected is None:
        return None
    try:
        ast.literal_eval(expected)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return TestCase(input=call, output=expected)


def check_program(setup: str, asserts: list[str]) -> str:
    body = "\n".join(textwrap.indent(a.strip(), "    ") for a in asserts)
    return f"{setup.rstrip()}\n\n\ndef check(candidate):\n{body}\n"


def _string_list(row: dict[str, Any], key: str, source: str, line: int, *, required: bool) -> list[str]:
    value = row.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise ProblemFormatError(source, "must be a non-empty list of assert statements" if required else "must be a list of assert statements",
                                 line=line, field=key)
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ProblemFormatError(source, f"item {i} must be a non-empty string", line=line, field=key)
        try:
            ast.parse(item)
        except SyntaxError as exc:
            raise ProblemFormatError(source, f"item {i} is not valid Python ({exc.msg})", line=line, field=key) from None
    return [v.strip() for v in value]


def parse_mbpp_row(row: Any, source: str, line: int, *, challenge: bool = False) -> Task:
    if not isinstance(row, dict):
        raise ProblemFormatError(source, "each line must be a JSON object", line=line)
    raw_id = row.get("task_id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or (isinstance(raw_id, str) and not raw_id.strip()):
        raise ProblemFormatError(source, "missing or not an int/string", line=line, field="task_id")
    tid = f"mbpp/{raw_id}" if isinstance(raw_id, int) else raw_id.strip()
    key = "text" if "text" in row else "prompt"
    statement = row.get(key)
    if not isinstance(statement, str) or not statement.strip():
        raise ProblemFormatError(source, "missing or empty (the statement)", line=line, field="text",
                                 fix="give 'text' (MBPP) or 'prompt' (MBPP+)")
    tests = _string_list(row, "test_list", source, line, required=True)
    challenge_tests = _string_list(row, "challenge_test_list", source, line, required=False)
    setup = row.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise ProblemFormatError(source, "must be a string", line=line, field="test_setup_code")
    if setup.strip():
        try:
            ast.parse(setup)
        except SyntaxError as exc:
            raise ProblemFormatError(source, f"not valid Python ({exc.msg})", line=line, field="test_setup_code") from None
    entry = _entry_point(row, tests)
    if not entry:
        raise ProblemFormatError(source, "cannot tell which function the tests call", line=line, field="test_list",
                                 fix="add an 'entry_point' field")
    first = tests[0]
    public = public_case(first, entry) if not setup.strip() else None  # setup-dependent asserts stay prose only
    hidden_asserts = tests + (challenge_tests if challenge else [])
    problem = Problem(
        id=tid,
        statement=f"{statement.strip()}\nYour code should pass this test:\n{first}",
        kind="functional", entry_point=entry, io_format="python",
        public_tests=(public,) if public else (),
        metadata={"suite": "mbpp", "n_hidden_asserts": len(hidden_asserts), "challenge": challenge},
    )
    return Task(problem, HiddenTests(tid, check_program=check_program(setup, hidden_asserts)))


def load_mbpp(path: str | Path, *, challenge: bool = False) -> list[Task]:
    path = Path(path)
    tasks: list[Task] = []
    seen: set[str] = set()
    for line_no, row in iter_json_lines(path, fix="check the path of the MBPP JSONL file"):
        task = parse_mbpp_row(row, str(path), line_no, challenge=challenge)
        if task.id in seen:
            raise ProblemFormatError(str(path), f"duplicate id {task.id!r}", line=line_no, field="task_id")
        seen.add(task.id)
        tasks.append(task)
    return tasks
