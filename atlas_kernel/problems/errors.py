"""Errors raised while reading problems: each names the file, line and field, and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from atlas_kernel.errors import AtlasError


class ProblemFormatError(AtlasError, ValueError):
    def __init__(self, source: str, message: str, *, line: int | None = None, field: str | None = None, fix: str | None = None):
        where = source if line is None else f"{source}:{line}"
        if field:
            where += f" (field {field!r})"
        text = f"{where}: {message}"
        if fix:
            text += f" — {fix}"
        super().__init__(text)
        self.source = source
        self.line = line
        self.field = field


def read_text_file(path: str | Path, *, fix: str = "check the path") -> str:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemFormatError(str(path), f"cannot read ({exc.strerror})", fix=fix) from None
    except UnicodeDecodeError:
        raise ProblemFormatError(str(path), "is not UTF-8 text") from None


def iter_json_lines(path: str | Path, *, fix: str = "check the path", text: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a JSONL file; a bad line is an
    error naming the file and line."""
    path = Path(path)
    if text is None:
        text = read_text_file(path, fix=fix)
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProblemFormatError(str(path), f"not valid JSON ({exc.msg})", line=line_no) from None
