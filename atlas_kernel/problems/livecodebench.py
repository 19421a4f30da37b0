"""LiveCodeBench `code_generation_lite` JSONL, read exactly as released.

Fields used: question_id, question_title, question_content, platform, contest_id,
contest_date, difficulty, starter_code, public_test_cases (a JSON string),
private_test_cases (a JSON string, or base64 of zlib of a pickle of that JSON string),
metadata (a JSON string; `func_name` names the function of functional problems).

Hidden tests are the public tests followed by the private tests, the list LiveCodeBench's own
runner (`get_evaluation_sample`) grades a sample on, in that order.

The pickle layer is read with an unpickler that refuses every global, so a hostile
file can at most hand us a plain string, never run code.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase

_REQUIRED = ("question_id", "question_content", "public_test_cases", "private_test_cases")


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def decode_private_tests(raw: str) -> list[dict[str, Any]]:
    """Private tests as released: plain JSON, or base64(zlib(pickle(json string)))."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        blob = zlib.decompress(base64.b64decode(raw.encode("utf-8")))
        inner = _NoGlobalsUnpickler(io.BytesIO(blob)).load()
        value = json.loads(inner) if isinstance(inner, (str, bytes)) else inner
    if not isinstance(value, list):
        raise ValueError("private tests are not a list")
    return value


def encode_private_tests(tests: list[dict[str, Any]]) -> str:
    """The compressed form LiveCodeBench releases (used to write fixtures)."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("ascii")


def _tests(rows: list[dict[str, Any]]) -> tuple[tuple[TestCase, ...], set[str]]:
    cases = tuple(TestCase(input=str(r["input"]), output=str(r["output"])) for r in rows)
    return cases, {str(r.get("testtype", "stdin")) for r in rows}


def _parse_row(row: dict[str, Any], source: str, line_no: int) -> Task:
    for key in _REQUIRED:
        if key not in row:
            raise ProblemFormatError(source, "missing field", line=line_no, field=key,
                                     fix="is this a LiveCodeBench code_generation_lite file?")
    try:
        public_rows = json.loads(row["public_test_cases"]) if isinstance(row["public_test_cases"], str) else row["public_test_cases"]
        public, public_types = _tests(public_rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProblemFormatError(source, f"cannot read public tests ({exc})", line=line_no, field="public_test_cases") from None
    try:
        private, private_types = _tests(decode_private_tests(row["private_test_cases"]))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a format error of this line
        raise ProblemFormatError(source, f"cannot decode private tests ({type(exc).__name__}: {exc})", line=line_no,
                                 field="private_test_cases", fix="expected JSON or base64+zlib+pickle as released") from None
    try:
        meta = json.loads(row.get("metadata") or "{}") if isinstance(row.get("metadata", "{}"), str) else dict(row["metadata"])
    except ValueError:
        raise ProblemFormatError(source, "metadata is not JSON", line=line_no, field="metadata") from None
    functional = "functional" in (public_types | private_types)
    starter = row.get("starter_code") or ""
    entry = meta.get("func_name")
    if functional and not entry:
        raise ProblemFormatError(source, "functional problem without metadata.func_name", line=line_no, field="metadata")
    qid = str(row["question_id"])
    problem = Problem(
        id=qid,
        statement=str(row["question_content"]),
        kind="functional" if functional else "stdio",
        public_tests=public,
        starter_code=starter,
        entry_point=entry if functional else None,
        class_name="Solution" if functional and "class Solution" in starter else None,
        io_format="json" if functional else "text",
        metadata={
            "suite": "livecodebench",
            "title": row.get("question_title", ""),
            "platform": row.get("platform", ""),
            "contest_id": row.get("contest_id", ""),
            "contest_date": row.get("contest_date", ""),
            "difficulty": row.get("difficulty", ""),
        },
    )
    # LiveCodeBench grades a sample on its public tests followed by its private tests
    return Task(problem, HiddenTests(qid, cases=public + private))


def iter_livecodebench(path: str | Path) -> Iterator[Task]:
    path = Path(path)
    for line_no, row in iter_json_lines(path, fix="check the path of the LiveCodeBench JSONL file"):
        if not isinstance(row, dict):
            raise ProblemFormatError(str(path), "each line must be a JSON object", line=line_no)
        yield _parse_row(row, str(path), line_no)


def _date(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def load_livecodebench(
    path: str | Path,
    *,
    since: str | None = None,
    until: str | None = None,
    difficulty: str | None = None,
    platform: str | None = None,
) -> list[Task]:
    """Load and filter by contest date window (contamination control), difficulty, platform."""
    lo, hi = (_date(since) if since else None), (_date(until) if until else None)
    out = []
    for task in iter_livecodebench(path):
        md = task.problem.metadata
        when = _date(md.get("contest_date", ""))
        if lo and (when is None or when < lo):
            continue
        if hi and (when is None or when > hi):
            continue
        if difficulty and md.get("difficulty") != difficulty:
            continue
        if platform and md.get("platform") != platform:
            continue
        out.append(task)
    return out
