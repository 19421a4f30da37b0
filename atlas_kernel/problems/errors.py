"""Errors raised while reading problems: each names the file, line and field, and the fix."""

from __future__ import annotations

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
