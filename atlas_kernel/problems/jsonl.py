"""atlas_kernel's own problem format: one JSON object per line (or a single object in a .json file).

    {"id": "sum-two",                       # required, unique
     "statement": "Read two integers ...",  # required
     "kind": "stdio" | "functional",        # default "stdio"
     "starter_code": "def add(a, b):\\n",   # optional
     "entry_point": "add",                  # functional only
     "class_name": "Solution",              # optional, LeetCode style
     "io_format": "text" | "json" | "python",  # default: text for stdio, json for functional
     "public_tests": [{"input": "1 2\\n", "output": "3\\n"}],   # the solver sees these
     "hidden_tests": [{"input": "5 7\\n", "output": "12\\n"}],  # only the grader sees these
     "check_program": "def check(candidate): ...",              # optional, HumanEval style
     "metadata": {"difficulty": "easy"}}

A line without hidden tests still gives a Problem (for `atlas solve`); grading it needs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines, read_text_file
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase

_KNOWN = {"id", "statement", "kind", "starter_code", "entry_point", "class_name", "io_format",
          "public_tests", "hidden_tests", "check_program", "metadata"}


def _cases(value: Any, source: str, line: int | None, field: str) -> tuple[TestCase, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProblemFormatError(source, "must be a list of {\"input\", \"output\"} objects", line=line, field=field)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or "input" not in item or "output" not in item:
            raise ProblemFormatError(source, f"item {i} must be an object with 'input' and 'output'", line=line, field=field)
        inp, outp = item["input"], item["output"]
        # Functional tests may be written as JSON values; keep them as their JSON text.
        out.append(TestCase(input=inp if isinstance(inp, str) else json.dumps(inp),
                            output=outp if isinstance(outp, str) else json.dumps(outp)))
    return tuple(out)


def parse_record(row: Any, source: str = "<record>", line: int | None = None) -> tuple[Problem, HiddenTests | None]:
    if not isinstance(row, dict):
        raise ProblemFormatError(source, "each record must be a JSON object", line=line)
    unknown = set(row) - _KNOWN
    if unknown:
        raise ProblemFormatError(source, f"unknown field(s) {sorted(unknown)}", line=line, field=sorted(unknown)[0],
                                 fix=f"known fields: {', '.join(sorted(_KNOWN))}")
    for key in ("id", "statement"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise ProblemFormatError(source, "missing or empty", line=line, field=key)
    kind = row.get("kind", "stdio")
    if kind not in ("stdio", "functional"):
        raise ProblemFormatError(source, f"must be 'stdio' or 'functional', got {kind!r}", line=line, field="kind")
    io_format = row.get("io_format") or ("text" if kind == "stdio" else "json")
    if kind == "functional" and not row.get("entry_point"):
        raise ProblemFormatError(source, "a functional problem needs the name of the function to call", line=line, field="entry_point")
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ProblemFormatError(source, "must be an object", line=line, field="metadata")
    try:
        problem = Problem(
            id=row["id"], statement=row["statement"], kind=kind,
            public_tests=_cases(row.get("public_tests"), source, line, "public_tests"),
            starter_code=row.get("starter_code") or "", entry_point=row.get("entry_point"),
            class_name=row.get("class_name"), io_format=io_format, metadata=metadata,
        )
    except ValueError as exc:
        raise ProblemFormatError(source, str(exc), line=line) from None
    hidden_cases = _cases(row.get("hidden_tests"), source, line, "hidden_tests")
    check = row.get("check_program")
    hidden = HiddenTests(problem.id, hidden_cases, check) if (hidden_cases or check) else None
    return problem, hidden


def iter_jsonl(path: str | Path) -> Iterator[tuple[Problem, HiddenTests | None]]:
    path = Path(path)
    text = read_text_file(path)
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProblemFormatError(str(path), f"not valid JSON ({exc.msg})", line=exc.lineno) from None
        rows = data if isinstance(data, list) else [data]
        for row in rows:
            yield parse_record(row, str(path))
        return
    seen: set[str] = set()
    for line_no, row in iter_json_lines(path, text=text):
        problem, hidden = parse_record(row, str(path), line_no)
        if problem.id in seen:
            raise ProblemFormatError(str(path), f"duplicate id {problem.id!r}", line=line_no, field="id")
        seen.add(problem.id)
        yield problem, hidden


def load_jsonl_tasks(path: str | Path) -> list[Task]:
    tasks = []
    for problem, hidden in iter_jsonl(path):
        if hidden is None:
            raise ProblemFormatError(str(path), f"problem {problem.id!r} has no hidden tests to grade with",
                                     field="hidden_tests", fix="add hidden_tests or check_program, or use it with `atlas solve`")
        tasks.append(Task(problem, hidden))
    return tasks
