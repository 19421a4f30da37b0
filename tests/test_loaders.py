import json

import pytest

from atlas_kernel.errors import AtlasError
from atlas_kernel.problems import load_problem, load_suite
from atlas_kernel.problems.errors import ProblemFormatError
from atlas_kernel.problems.humaneval import load_humaneval, parse_docstring_examples
from atlas_kernel.problems.livecodebench import decode_private_tests, encode_private_tests, load_livecodebench


# -- HumanEval ------------------------------------------------------------------------------
def test_humaneval_loads_all_164_with_docstring_examples_public_and_check_hidden():
    tasks = load_humaneval()
    assert len(tasks) == 164
    t0 = tasks[0]
    assert t0.problem.kind == "functional" and t0.problem.io_format == "python"
    assert t0.problem.public_tests[0].input == "has_close_elements([1.0, 2.0, 3.0], 0.5)"
    assert t0.problem.public_tests[0].output == "False"
    assert "def check(candidate)" in t0.hidden.check_program
    # the check program lives only on the grader side
    assert "def check" not in json.dumps(t0.problem.to_dict())
    assert sum(1 for t in tasks if t.problem.public_tests) >= 140


def test_docstring_examples_in_several_styles_are_parsed_and_prose_is_dropped():
    prompt = '''def f(x, y=0):
    """Doc.
    >>> f(1)
    2
    >>> round(f(2), 1) # comment
    3.0
    f(3) ➞ 4
    f(4) => true
    For x = 5 the output should be 6
    f(7) -> 7 + 1 = 8
    """
'''
    got = [(t.input.strip(), t.output) for t in parse_docstring_examples(prompt, "f")]
    assert ("f(1)", "2") in got
    assert ("round(f(2), 1)", "3.0") in got
    assert ("f(3)", "4") in got
    assert ("f(4)", "True") in got
    assert ("f(x = 5)", "6") in got
    assert not any(i.startswith("f(7)") for i, _ in got)


# -- LiveCodeBench --------------------------------------------------------------------------
def _lcb_row(qid, testtype="stdin", func=None, date="2024-09-01T00:00:00", difficulty="easy"):
    public = [{"input": "1 2\n", "output": "3\n", "testtype": testtype}]
    private = [{"input": "5 5\n", "output": "10\n", "testtype": testtype}]
    return {
        "question_title": f"T{qid}", "question_content": "Add two numbers.", "platform": "atcoder",
        "question_id": qid, "contest_id": "abc1", "contest_date": date,
        "starter_code": "class Solution:\n    def add(self, a, b):\n        " if func else "",
        "difficulty": difficulty, "public_test_cases": json.dumps(public),
        "private_test_cases": encode_private_tests(private),
        "metadata": json.dumps({"func_name": func} if func else {}),
    }


def test_livecodebench_reads_the_released_format_with_compressed_private_tests(tmp_path):
    f = tmp_path / "test.jsonl"
    rows = [_lcb_row("a1"), _lcb_row("a2", "functional", "add", date="2025-02-01T00:00:00", difficulty="hard")]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    tasks = load_livecodebench(f)
    assert [t.id for t in tasks] == ["a1", "a2"]
    stdio, func = tasks
    assert stdio.problem.kind == "stdio" and stdio.problem.metadata["suite"] == "livecodebench"
    # LiveCodeBench grades a sample on the public tests followed by the (decompressed) private ones
    assert [c.input for c in stdio.hidden.cases] == ["1 2\n", "5 5\n"]
    assert func.problem.kind == "functional" and func.problem.entry_point == "add"
    assert func.problem.class_name == "Solution" and func.problem.io_format == "json"
    assert [t.id for t in load_livecodebench(f, since="2025-01-01")] == ["a2"]
    assert [t.id for t in load_livecodebench(f, difficulty="easy")] == ["a1"]
    assert load_suite(f"lcb:{f}", task_ids=["a2"])[0].id == "a2"


def test_livecodebench_private_tests_refuse_pickled_globals():
    import base64
    import pickle
    import zlib

    evil = base64.b64encode(zlib.compress(pickle.dumps(print))).decode()
    with pytest.raises(Exception, match="refusing"):
        decode_private_tests(evil)
    assert decode_private_tests(encode_private_tests([{"input": "1", "output": "2"}]))[0]["output"] == "2"


def test_livecodebench_bad_line_names_file_line_and_field(tmp_path):
    f = tmp_path / "bad.jsonl"
    row = _lcb_row("a1")
    del row["question_content"]
    f.write_text(json.dumps(_lcb_row("a0")) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ProblemFormatError) as err:
        load_livecodebench(f)
    msg = str(err.value)
    assert f"{f}:2" in msg and "question_content" in msg


# -- our JSONL and Markdown ----------------------------------------------------------------
def test_jsonl_format_round_trip_and_errors(tmp_path):
    f = tmp_path / "mine.jsonl"
    good = {"id": "add", "statement": "Add.", "kind": "functional", "entry_point": "add",
            "public_tests": [{"input": "1\n2", "output": "3"}], "hidden_tests": [{"input": [5, 6], "output": 11}]}
    f.write_text(json.dumps(good) + "\n" + json.dumps({"id": "x", "kind": "stdio"}) + "\n")
    with pytest.raises(ProblemFormatError) as err:
        load_suite(f"jsonl:{f}")
    assert f"{f}:2" in str(err.value) and "'statement'" in str(err.value)
    f.write_text(json.dumps(good) + "\n")
    (task,) = load_suite(f"jsonl:{f}")
    assert task.problem.io_format == "json" and task.hidden.cases[0].output == "11"


def test_unknown_suite_and_missing_file_are_one_clear_line(tmp_path):
    with pytest.raises(AtlasError, match="unknown suite"):
        load_suite("mbpp-typo")
    with pytest.raises(AtlasError, match="does not exist"):
        load_problem(str(tmp_path / "nope.md"))


def test_markdown_statement_examples_and_bundled_examples():
    p = load_problem("example:sum_of_list")
    assert p.kind == "stdio" and p.public_tests[0].input == "3\n1 2 3\n" and p.public_tests[0].output == "6\n"
    p = load_problem("example:max_pair_gap")
    assert [t.output for t in p.public_tests] == ["3\n", "0\n"]
    f = load_problem("example:count_vowels")
    assert f.kind == "functional" and f.entry_point == "count_vowels" and len(f.public_tests) == 3
    inline = load_problem("Print the double of n.\nInput: 4\nOutput: 8\n")
    assert inline.public_tests[0].input == "4\n" and inline.public_tests[0].output == "8\n"


# -- evalplus ---------------------------------------------------------------------------------
def test_evalplus_files_load_as_reference_judged_tasks():
    from pathlib import Path

    data = Path(__file__).parent / "data"
    he = load_suite(f"humaneval+:{data / 'humaneval_plus_small.jsonl'}")
    t = he[1]
    assert t.id == "HumanEval/2" and t.problem.starter_code.startswith("\n\ndef truncate_number")
    assert [(c.input, c.output) for c in t.problem.public_tests] == [("truncate_number(3.5)", "0.5")]
    ref = t.hidden.reference
    assert ref.atol == 1e-6 and [name for name, _ in ref.input_sets] == ["base", "plus"] and ref.n_tests == 6
    assert "number % 1.0" not in json.dumps(t.problem.to_dict())  # the reference stays hidden
    assert "number % 1.0" not in repr(t.hidden) and "3.5" not in repr(t.hidden)
    mb = load_suite(f"mbpp+:{data / 'mbpp_plus_small.jsonl'}", task_ids=["Mbpp/106"])[0]
    assert mb.problem.statement.startswith("Write a function to append") and '"""' not in mb.problem.statement
    assert mb.hidden.reference.input_sets[0][1][0] == [[5, 6, 7], (9, 10)]  # tuples restored as evalplus does


@pytest.mark.parametrize("row,field", [
    ({"prompt": "p", "canonical_solution": "", "entry_point": "f", "base_input": [], "plus_input": []}, "task_id"),
    ({"task_id": "HumanEval/1", "prompt": "p", "canonical_solution": "", "entry_point": "f", "base_input": [[1]]},
     "plus_input"),
    ({"task_id": "HumanEval/1", "prompt": "p", "canonical_solution": "", "entry_point": "f", "base_input": [1],
      "plus_input": []}, "base_input"),
    ({"task_id": "HumanEval/1", "prompt": "p", "canonical_solution": "", "entry_point": "f", "base_input": [],
      "plus_input": [], "atol": "x"}, "atol"),
])
def test_evalplus_bad_lines_name_file_line_and_field(tmp_path, row, field):
    f = tmp_path / "HumanEvalPlus.jsonl"
    f.write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(ProblemFormatError) as err:
        load_suite(f"humaneval+:{f}")
    assert f"{f}:2" in str(err.value) and repr(field) in str(err.value)


def test_timeout_policy_derives_limits_from_reference_times_and_suites():
    from atlas_kernel.judging.timeouts import (DEFAULT_TEST_TIMEOUT_S, reference_limit, set_budget,
                                               test_timeout_for)
    from atlas_kernel.pipeline.config import PipelineConfig

    assert reference_limit(0.01) == 1.0 and reference_limit(0.5) == 2.0  # max(1 s, 4 x reference)
    assert set_budget([1.0, 2.0]) == 4.0 and set_budget([30.0] * 3) == 61.0
    assert test_timeout_for({"suite": "livecodebench"}) == 6.0 and test_timeout_for({"suite": "humaneval"}) == 3.0
    assert test_timeout_for({}) == DEFAULT_TEST_TIMEOUT_S == PipelineConfig().test_timeout_s
