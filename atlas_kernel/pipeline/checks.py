"""The one place the pipeline reaches the test runners: running a candidate on test cases and
the typed verdict each test gets. Everything else in the pipeline imports these names from here,
so moving the runners (to a judging layer) changes only the two import lines below."""

from __future__ import annotations

from typing import Any

from atlas_kernel.judging import run_tests
from atlas_kernel.judging import TestVerdict

__all__ = ["TestVerdict", "run_tests", "verdict_from_dict"]


def verdict_from_dict(d: dict[str, Any] | TestVerdict) -> TestVerdict:
    """A verdict read back from a trace (where it is stored as its dict)."""
    return d if isinstance(d, TestVerdict) else TestVerdict(**d)
