"""Grading: hidden tests run once on a final program (the grader side of the Problem/HiddenTests
split), external samples files (`atlas grade`), and the pass@k estimator. Judging a program on
tests (runners, verdicts, timeouts) lives in `atlas_kernel.judging`; the pipeline never imports
this package."""

from atlas_kernel.grading.grader import GradeResult, Grader, grader_for

__all__ = ["Grader", "GradeResult", "grader_for"]
