"""`atlas grade` on evalplus files gives evalplus's own verdicts, sample by sample.

The oracle is evalplus's checker (`evalplus.gen.util.trusted_exec` for the reference outputs and
times, `evalplus.eval.untrusted_check` on base then plus inputs, as its evaluate.py does), run in
its own process on tests/data/humaneval_plus_small.jsonl and mbpp_plus_small.jsonl, files in
the release format. (`evalplus.evaluate` itself imports its code-generation stack - datasets,
transformers, tree-sitter, API clients - at import time, so the checker is driven directly.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas_kernel.grading.external import grade_samples_file
from atlas_kernel.problems.evalplus import mbpp_plus_inputs
from official_oracles import run_oracle

DATA = Path(__file__).parent / "data"
HE = DATA / "humaneval_plus_small.jsonl"
MBPP = DATA / "mbpp_plus_small.jsonl"

HE_SAMPLES = [  # (name, task id, completion after the prompt)
    ("close_right", "HumanEval/0", "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"),
    ("close_le", "HumanEval/0", "    return any(abs(a - b) <= threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"),
    ("close_crash", "HumanEval/0", "    return numbers[0] < threshold\n"),
    ("close_exit", "HumanEval/0", "    import sys\n    sys.exit(0)\n"),
    ("trunc_right", "HumanEval/2", "    return number % 1.0\n"),
    ("trunc_within_atol", "HumanEval/2", "    return number - int(number)\n"),
    ("trunc_rounded", "HumanEval/2", "    return round(number % 1.0, 3)\n"),
    ("trunc_str", "HumanEval/2", "    return str(number % 1.0)\n"),
    ("trunc_slow", "HumanEval/2", "    import time\n    time.sleep(1.3)\n    return number % 1.0\n"),
    ("mad_right", "HumanEval/4", "    m = sum(numbers) / len(numbers)\n    return sum(abs(x - m) for x in numbers) / len(numbers)\n"),
    ("mad_other_order", "HumanEval/4", "    m = sum(numbers) / len(numbers)\n    return sum(abs(m - x) / len(numbers) for x in reversed(numbers))\n"),
    ("mad_off", "HumanEval/4", "    m = sum(numbers) / len(numbers)\n    return sum(abs(x - m) for x in numbers) / len(numbers) + 1e-5\n"),
    ("filter_right", "HumanEval/7", "    return [s for s in strings if substring in s]\n"),
    ("filter_tuple", "HumanEval/7", "    return tuple(s for s in strings if substring in s)\n"),
    ("filter_prints", "HumanEval/7", "    print(strings)\n    return [s for s in strings if substring in s]\n"),
]
MBPP_SAMPLES = [  # (name, task id, whole solution)
    ("similar_right", "Mbpp/2", "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n"),
    ("similar_list_any_order", "Mbpp/2", "def similar_elements(a, b):\n    return sorted(set(a) & set(b), reverse=True)\n"),
    ("similar_wrong", "Mbpp/2", "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n"),
    ("perimeter_right", "Mbpp/17", "def square_perimeter(a):\n    return 4 * a\n"),
    ("perimeter_float_int_inputs", "Mbpp/17", "def square_perimeter(a):\n    return 4.0 * a\n"),
    ("perimeter_tiny_error", "Mbpp/17", "def square_perimeter(a):\n    return 4 * a + 1e-9\n"),
    ("dirty_right", "Mbpp/18", "def remove_dirty_chars(s, t):\n    return ''.join(c for c in s if c not in t)\n"),
    ("dirty_first_only", "Mbpp/18", "def remove_dirty_chars(s, t):\n    for c in t:\n        s = s.replace(c, '', 1)\n    return s\n"),
    ("add_lists_right", "Mbpp/106", "def add_lists(l, t):\n    return t + tuple(l)\n"),
    ("add_lists_list", "Mbpp/106", "def add_lists(l, t):\n    return list(t) + l\n"),
    ("add_lists_loops", "Mbpp/106", "def add_lists(l, t):\n    while True:\n        pass\n"),
]


def _agree(path: Path, dataset: str, suite: str, samples, tmp_path) -> dict:
    pytest.importorskip("evalplus.eval")
    rows = {json.loads(line)["task_id"]: json.loads(line) for line in path.read_text().splitlines()}
    key = "completion" if dataset == "humaneval" else "solution"
    f = tmp_path / f"{dataset}_samples.jsonl"
    f.write_text("".join(json.dumps({"task_id": tid, key: code}) + "\n" for _, tid, code in samples))
    ours = grade_samples_file(f"{suite}:{path}", f, workers=2)
    mine = [json.loads(line)["passed"] for line in Path(ours["results_file"]).read_text().splitlines()]
    items = [{"row": rows[tid], "solution": (rows[tid]["prompt"] + code) if key == "completion" else code}
             for _, tid, code in samples]
    theirs = [r["passed"] for r in run_oracle("evalplus", {"dataset": dataset, "items": items})]
    return {name: (m, t) for (name, _, _), m, t in zip(samples, mine, theirs)}


def test_humaneval_plus_samples_get_evalplus_verdicts(tmp_path):
    both = _agree(HE, "humaneval", "humaneval+", HE_SAMPLES, tmp_path)
    assert {n: v for n, v in both.items() if v[0] != v[1]} == {}
    assert {True, False} <= {v[0] for v in both.values()}


def test_mbpp_plus_samples_get_evalplus_verdicts(tmp_path):
    both = _agree(MBPP, "mbpp", "mbpp+", MBPP_SAMPLES, tmp_path)
    assert {n: v for n, v in both.items() if v[0] != v[1]} == {}
    assert {True, False} <= {v[0] for v in both.values()}


def test_mbpp_plus_inputs_become_the_tuples_sets_and_complex_numbers_the_task_expects():
    assert mbpp_plus_inputs("Mbpp/106", [[[5, 6], [9, 10]]]) == [[[5, 6], (9, 10)]]
    assert mbpp_plus_inputs("Mbpp/2", [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    assert mbpp_plus_inputs("Mbpp/124", [[1, "1+2j"]]) == [(1.0, 1 + 2j)]
    assert mbpp_plus_inputs("Mbpp/115", [[[[1], []]]]) == [[[{1}, {}]]]
    assert mbpp_plus_inputs("Mbpp/580", [[[1, [2, 3]]]]) == [(((1, (2, 3))),)]
    assert mbpp_plus_inputs("Mbpp/17", [[10]]) == [[10]]  # most tasks: as stored
