"""Typed verdicts: the outcome of running a program on one test.

`Verdict` is a closed set. "passed" means the run's success sentinel was seen after the checks
ran (see `atlas_kernel.sandbox`): a program that exits early (`sys.exit(0)`, `os._exit(0)`)
before its checks ran never passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

Verdict = Literal["passed", "wrong_answer", "timeout", "runtime_error", "memory_exceeded", "output_limit",
                  "compile_error", "sandbox_error"]
VERDICTS: Final[tuple[str, ...]] = get_args(Verdict)
PASSED: Final = "passed"

TRUNC = 300  # characters of input/expected/actual kept in a verdict


def truncate(s: str, n: int = TRUNC) -> str:
    return s if len(s) <= n else s[: n // 2] + f"...({len(s) - n} chars truncated)..." + s[-n // 2:]


@dataclass
class TestVerdict:
    """The outcome of one test.

    verdict   one of `VERDICTS`; "sandbox_error" = the sandbox failed, also on a retry (the
              program's behaviour is unknown)
    index     position of the test in the list given
    input, expected, actual   truncated to ~300 characters
    message   one line: the exception's last line, the first differing line, the limit hit ...
    details   traceback or stderr tail (may be empty), for feedback to a model
    """

    verdict: Verdict
    index: int = 0
    input: str = ""
    expected: str = ""
    actual: str = ""
    message: str = ""
    wall_s: float = 0.0
    details: str = ""

    __test__ = False  # keep pytest from collecting this class

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; one of {', '.join(VERDICTS)}")

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def public_dict(self) -> dict[str, Any]:
        """What may leave the grader about a hidden test: which one and its verdict, never its
        input, expected output, the program's output on it, a message or a traceback (each can
        quote hidden data)."""
        return {"index": self.index, "verdict": self.verdict}


def all_passed(verdicts: Sequence[TestVerdict]) -> bool:
    return bool(verdicts) and all(v.passed for v in verdicts)


def first_failure(verdicts: Sequence[TestVerdict]) -> TestVerdict | None:
    return next((v for v in verdicts if not v.passed), None)
