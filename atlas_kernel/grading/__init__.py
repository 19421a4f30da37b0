"""Grading: hidden tests run once on a final program (the grader side of the Problem/HiddenTests split),
public-test verification for the solver side, and the pass@k estimator."""
