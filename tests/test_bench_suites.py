"""MBPP and GPQA loaders, multiple-choice answering, power readings, progress output."""

from __future__ import annotations

import io
import json
import stat

import pytest

from atlas_kernel.bench import run_benchmark
from atlas_kernel.bench.choice import choice_prompt, parse_letter
from atlas_kernel.bench.power import DEFAULT_CPU_WATTS, PowerMeter, gpu_power_draw
from atlas_kernel.bench.task_progress import BenchProgress
from atlas_kernel.grading import grader_for
from atlas_kernel.models.scripted import ScriptedModel
from atlas_kernel.problems import ProblemFormatError, load_suite

MBPP_ROWS = [
    {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
     "code": "def remove_Occ(s, ch):\n    return s", "test_setup_code": "",
     "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"',
                   'assert remove_Occ("PHP","P") == "H"'],
     "challenge_test_list": ['assert remove_Occ("hellolloll","l") == "helollol"']},
    {"task_id": "Mbpp/2", "prompt": "Write a function to find the shared elements from the given two lists.",
     "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
     "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
                   "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))"]},
]
REMOVE_OCC = '''def remove_Occ(s, ch):
    i = s.find(ch)
    if i != -1:
        s = s[:i] + s[i + 1:]
    j = s.rfind(ch)
    if j != -1:
        s = s[:j] + s[j + 1:]
    return s
'''


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_mbpp_hidden_check_counts_every_assert_of_test_list_and_no_challenge_test(tmp_path):
    f = _write_jsonl(tmp_path / "mbpp.jsonl", MBPP_ROWS)
    t11, t2 = load_suite(f"mbpp:{f}")
    assert t11.id == "mbpp/11" and t11.problem.entry_point == "remove_Occ" and t11.problem.io_format == "python"
    assert [(c.input, c.output) for c in t11.problem.public_tests] == [('remove_Occ("hello","l")', '"heo"')]
    assert 'assert remove_Occ("hello","l") == "heo"' in t11.problem.statement
    check = t11.hidden.check_program
    # all three asserts of test_list, the one shown in the prompt included; challenge tests only when asked
    assert '"hello","l"' in check and '"abcda"' in check and '"PHP"' in check and '"hellolloll"' not in check
    assert "return s" not in json.dumps(t11.problem.to_dict())  # the reference solution is never shown
    assert t2.id == "Mbpp/2" and t2.problem.entry_point == "similar_elements"
    assert t2.problem.public_tests == ()  # `set(f(x)) == set(y)` is not a call == literal: stated, not run
    assert grader_for(t11).grade(REMOVE_OCC).passed
    assert not grader_for(t11).grade("def remove_Occ(s, ch):\n    return s[1:-1]\n").passed
    # a program right on every assert but the shown one fails: the shown assert counts too
    only_hidden = 'def remove_Occ(s, ch):\n    return {"abcda": "bcd", "PHP": "H"}.get(s, s)\n'
    assert not grader_for(t11).grade(only_hidden).passed


def test_mbpp_challenge_tests_join_the_check_only_when_asked_for(tmp_path):
    f = _write_jsonl(tmp_path / "mbpp.jsonl", MBPP_ROWS)
    t11 = load_suite(f"mbpp-challenge:{f}")[0]
    assert '"hellolloll"' in t11.hidden.check_program and t11.problem.metadata["n_hidden_asserts"] == 4
    wrong_on_challenge = 'def remove_Occ(s, ch):\n    return {"hello": "heo", "abcda": "bcd", "PHP": "H"}[s]\n'
    assert grader_for(t11).grade(wrong_on_challenge).summary == "runtime_error"
    assert grader_for(load_suite(f"mbpp:{f}")[0]).grade(wrong_on_challenge).passed


@pytest.mark.parametrize("row,field", [
    ({"text": "x", "test_list": ["assert f(1) == 1"]}, "task_id"),
    ({"task_id": 1, "test_list": ["assert f(1) == 1"]}, "text"),
    ({"task_id": 1, "text": "x", "test_list": []}, "test_list"),
    ({"task_id": 1, "text": "x", "test_list": ["assert f(1 == 1"]}, "test_list"),
    ({"task_id": 1, "text": "x", "test_list": ["assert f(1) == 1"], "challenge_test_list": "no"}, "challenge_test_list"),
])
def test_mbpp_bad_lines_name_file_line_and_field(tmp_path, row, field):
    f = _write_jsonl(tmp_path / "bad.jsonl", [MBPP_ROWS[0], row])
    with pytest.raises(ProblemFormatError) as err:
        load_suite(f"mbpp:{f}")
    assert err.value.line == 2 and err.value.field == field and "bad.jsonl:2" in str(err.value)


GPQA_CSV = '''Record ID,Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3,High-level domain
rec1,"What is 2+2?
(think about it)",4,3,5,22,Math
rec2,Which gas do plants absorb?,Carbon dioxide,Oxygen,Nitrogen,Helium,Biology
'''


def test_gpqa_choices_are_shuffled_deterministically_and_the_answer_stays_hidden(tmp_path):
    f = tmp_path / "gpqa.csv"
    f.write_text(GPQA_CSV)
    a, b = load_suite(f"gpqa:{f}"), load_suite(f"gpqa:{f}")
    assert [t.problem.statement for t in a] == [t.problem.statement for t in b]
    t1 = a[0]
    letter = t1.hidden.cases[0].output
    assert f"{letter}) 4" in t1.problem.statement
    assert all(f"{x}) " in t1.problem.statement for x in "ABCD") and t1.problem.metadata["domain"] == "Math"
    from atlas_kernel.problems.gpqa import shuffled_choices

    letters = {shuffled_choices(f"q{i}", "right", ["w1", "w2", "w3"])[1] for i in range(40)}
    assert letters == set("ABCD")  # the correct answer is not always in the same place


def test_gpqa_bad_rows_name_file_line_and_field(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text(GPQA_CSV + 'rec3,"multi\nline question",,a,b,c,Math\n')
    with pytest.raises(ProblemFormatError) as err:
        load_suite(f"gpqa:{f}")
    assert err.value.line == 5 and err.value.field == "Correct Answer"
    f.write_text("Question,Correct Answer\nq,a\n")
    with pytest.raises(ProblemFormatError, match="Incorrect Answer 1"):
        load_suite(f"gpqa:{f}")


@pytest.mark.parametrize("text,letter", [
    ("The answer is C.", "C"), ("Let me think. A is wrong, B too.\nAnswer: D", "D"), ("B) because", "B"),
    ("(A)", "A"), ("I choose option C", "C"), ("no idea", None), ("A or B", None), ("answer: (b)", "B"),
])
def test_the_answer_letter_is_parsed_from_free_text(text, letter):
    assert parse_letter(text) == letter


def test_gpqa_bench_answers_with_one_generation_and_grades_by_letter(tmp_path):
    f = tmp_path / "gpqa.csv"
    f.write_text(GPQA_CSV)
    tasks = load_suite(f"gpqa:{f}")
    right = {t.id: t.hidden.cases[0].output for t in tasks}  # the test plays a model that knows rec1 only

    def answer(prompt, sampling):
        assert prompt == choice_prompt(next(t.problem for t in tasks if t.problem.statement in prompt[0]["content"]), "chat")
        return f"Answer: {right['rec1']}" if "2+2" in prompt[0]["content"] else "Answer: " + ("A" if right["rec2"] != "A" else "B")

    model = ScriptedModel(answer)
    run = run_benchmark(f"gpqa:{f}", condition="E", model=model, out=tmp_path / "g", progress="none")
    assert len(model.prompts) == 2  # one generation per question, whatever the condition
    assert [(r["task_id"], r["passed"], r["mode"]) for r in run.rows] == [("rec1", True, "choice"), ("rec2", False, "choice")]
    assert run.rows[0]["route"]["path"] == "fast" and run.summary["metric"] == "pass@1"
    assert run.summary["by_domain"]["Math"]["solved"] == 1


def test_power_is_read_from_nvidia_smi_when_present_else_stated(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi here
    assert gpu_power_draw() is None
    meter = PowerMeter()
    assert meter.watts() == DEFAULT_CPU_WATTS and not meter.measured and "stated" in meter.source
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 71.5\necho '[N/A]'\necho 30.25\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert gpu_power_draw() == pytest.approx(101.75)
    meter = PowerMeter(interval_s=0.05).start()
    meter.stop()
    assert meter.measured and meter.watts() == pytest.approx(101.75) and "nvidia-smi" in meter.source
    assert PowerMeter(20).watts() == 20 and PowerMeter(20).to_dict()["source"].startswith("stated")


def test_progress_prints_plain_lines_with_pass_rate_and_eta_when_piped():
    out = io.StringIO()
    bar = BenchProgress(4, already_done={"B": [{"task_id": "t0", "passed": True}]}, label="B", stream=out)
    assert bar.style == "plain"
    bar.update({"task_id": "t1", "passed": False, "grade": "wrong_answer"}, "B")
    bar.close()
    line = out.getvalue().strip()
    assert line.startswith("[B] 2/4 t1: wrong_answer") and "1/2 = 50.0%" in line and "ETA" in line
    assert "ETA ?" not in line
