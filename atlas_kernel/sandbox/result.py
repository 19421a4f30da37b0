"""The outcome of one sandboxed run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

RunStatus = Literal["ok", "timeout", "memory_exceeded", "output_limit", "runtime_error", "compile_error",
                    "sandbox_error"]


@dataclass
class RunResult:
    """What happened to one program.

    status      "ok" only if the program ended with exit status 0 *and* the success sentinel
                was seen (`completed`); "timeout" (wall or CPU limit), "memory_exceeded",
                "output_limit" (stdout flood), "runtime_error" (exception, non-zero exit, signal,
                or an exit before the sentinel), "compile_error" (SyntaxError), "sandbox_error"
                (the sandbox itself failed; the program's behaviour is unknown)
    returncode  exit status, or -N when killed by signal N; None if unknown
    signal      e.g. "SIGKILL" when killed by a signal
    stdout/err  decoded as UTF-8 (invalid bytes replaced), bounded by Limits.output_bytes;
                truncated text carries a "...[N bytes truncated by the sandbox]..." marker
    completed   the harness's success sentinel arrived (written after the program/checks ended)
    reports     the harness's validated messages (per-test results for the test runners)
    """

    status: RunStatus
    returncode: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    completed: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    message: str = ""
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def sandbox_error(cls, message: str, wall_s: float = 0.0) -> "RunResult":
        return cls(status="sandbox_error", message=message, wall_s=wall_s)
