"""Benchmark harness: resumable runs of the pipeline over suites, graded by hidden tests."""
