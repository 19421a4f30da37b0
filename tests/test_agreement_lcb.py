"""`atlas grade` gives LiveCodeBench's own verdicts, sample by sample.

The oracle is `livecodebench.evaluation.compute_code_generation_metrics.check_correctness` (from
`nvidia-livecodebench`, installed by `install.sh --test`), run in its own process on the same rows
of tests/data/lcb_small.jsonl (code_generation_lite format: stdio and functional problems,
compressed and plain private tests, float outputs, trailing whitespace) and the same samples
(right, wrong, timeouts, crashes, compile errors ...). Verdicts are compared on: passed, the index
of the first failing test, and its kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas_kernel.grading.external import grade_samples_file
from official_oracles import run_oracle

DATA = Path(__file__).parent / "data" / "lcb_small.jsonl"
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
SAMPLES: list[tuple[str, str, str]] = [  # (name, task id, program)
    ("right", "abc001_a", ADD),
    ("right_main_guard", "abc001_a", "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\nif __name__ == '__main__':\n    main()\n"),
    ("trailing_spaces", "abc001_a", "a, b = map(int, input().split())\nprint(a + b, '   ')\nprint()\n"),
    ("wrong_on_private", "abc001_a", "a, b = map(int, input().split())\nprint(a + b if a > 0 else 1)\n"),
    ("wrong_on_public", "abc001_a", "a, b = map(int, input().split())\nprint(a + b if a != 10 else 0)\n"),
    ("crash", "abc001_a", "a, b = map(int, input().split())\nprint(a // (b - 2))\n"),
    ("compile_error", "abc001_a", "a, b = map(int, input().split()\nprint(a + b)\n"),
    ("timeout", "abc001_a", "a, b = map(int, input().split())\nwhile a > 0:\n    pass\nprint(a + b)\n"),
    ("exit_0_after_output", "abc001_a", "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\nprint('x')\n"),
    ("exit_1_after_output", "abc001_a", "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(1)\n"),
    ("prelude_names", "abc001_a", "a, b = map(int, input().split())\nprint(int(sqrt((a + b) ** 2)) if a + b >= 0 else a + b)\n"),
    ("floats_exact_digits", "abc001_b", "a, b = map(int, input().split())\nprint(f'{a / b:.6f}')\n"),
    ("floats_more_digits", "abc001_b", "a, b = map(int, input().split())\nprint(a / b)\n"),
    ("floats_trailing_zero", "abc001_b", "a, b = map(int, input().split())\nprint(f'{a / b:.6f}' if b != 4 else a / b)\n"),
    ("grid_right", "abc001_c", "n = int(input())\nfor _ in range(n):\n    print('.' * n)\nprint('END')\n"),
    ("grid_extra_blank_line_inside", "abc001_c", "n = int(input())\nfor _ in range(n):\n    print('.' * n)\nprint()\nprint('END')\n"),
    ("grid_spaces_between", "abc001_c", "n = int(input())\nfor _ in range(n):\n    print(' '.join('.' * n))\nprint('END')\n"),
    ("two_sum_right", "3000", "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
     "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
     "                return [seen[target - x], i]\n            seen[x] = i\n"),
    ("two_sum_tuple", "3000", "class Solution:\n    def twoSum(self, nums, target):\n        for i in range(len(nums)):\n"
     "            for j in range(i + 1, len(nums)):\n                if nums[i] + nums[j] == target:\n"
     "                    return (i, j)\n"),
    ("two_sum_wrong_order", "3000", "class Solution:\n    def twoSum(self, nums, target):\n        for i in range(len(nums)):\n"
     "            for j in range(i + 1, len(nums)):\n                if nums[i] + nums[j] == target:\n"
     "                    return [j, i]\n"),
    ("two_sum_crash_on_private", "3000", "class Solution:\n    def twoSum(self, nums, target):\n        assert nums[0] != 3\n"
     "        return [0, 1]\n"),
    ("two_sum_timeout", "3000", "class Solution:\n    def twoSum(self, nums, target):\n        while True:\n            pass\n"),
    ("two_sum_missing_method", "3000", "class Solution:\n    def two_sum(self, nums, target):\n        return [0, 1]\n"),
    ("average_right", "3001", "class Solution:\n    def average(self, nums):\n        return sum(nums) / len(nums)\n"),
    ("average_int_when_whole", "3001", "class Solution:\n    def average(self, nums):\n        s = sum(nums)\n"
     "        return s // len(nums) if s % len(nums) == 0 else s / len(nums)\n"),
    ("average_rounding_error", "3001", "class Solution:\n    def average(self, nums):\n        return sum(x / len(nums) for x in nums) + 1e-12\n"),
]
# Where we differ from LiveCodeBench on purpose, and how (name -> (ours passed, LCB passed)).
# A stdio program that exits with a non-zero status is a runtime error here; LCB's stdio grader
# swallows SystemExit and compares what was printed.
EXPECTED_DISAGREEMENTS = {"exit_1_after_output": (False, True)}


def _kind(verdict: str) -> str:
    return {"compile_error": "runtime_error", "memory_exceeded": "runtime_error"}.get(verdict, verdict)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    pytest.importorskip("livecodebench.evaluation.testing_util")
    rows = {json.loads(line)["question_id"]: json.loads(line) for line in DATA.read_text().splitlines()}
    samples = tmp_path_factory.mktemp("lcb") / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": tid, "code": code}) + "\n" for _, tid, code in SAMPLES))
    ours = grade_samples_file(f"lcb:{DATA}", samples, workers=2)
    per_sample = [json.loads(line) for line in Path(ours["results_file"]).read_text().splitlines()]
    theirs = run_oracle("lcb", {"timeout": 6, "items": [{"row": rows[tid], "code": code} for _, tid, code in SAMPLES]})
    return per_sample, theirs


def test_every_sample_gets_livecodebench_verdict(both):
    ours, theirs = both
    assert len(ours) == len(theirs) == len(SAMPLES)
    mismatches = {}
    for (name, _tid, _code), o, t in zip(SAMPLES, ours, theirs):
        if name in EXPECTED_DISAGREEMENTS:
            continue
        mine = (o["passed"], None if o["first_failure"] is None else
                (o["first_failure"]["index"], _kind(o["first_failure"]["verdict"])))
        lcb = (t["passed"], None if t["first_failure"] is None else
               (t["first_failure"]["index"], {"global_timeout": "timeout"}.get(t["first_failure"]["code"], t["first_failure"]["code"])))
        if mine != lcb:
            mismatches[name] = {"ours": mine, "lcb": lcb}
    assert not mismatches


def test_expected_disagreements_are_exactly_the_listed_ones(both):
    ours, theirs = both
    seen = {name: (o["passed"], t["passed"]) for (name, _, _), o, t in zip(SAMPLES, ours, theirs) if name in EXPECTED_DISAGREEMENTS}
    assert seen == EXPECTED_DISAGREEMENTS


def test_the_set_covers_passes_and_every_failure_kind(both):
    ours, _ = both
    kinds = {o["verdict"] for o in ours}
    assert {"passed", "wrong_answer", "timeout", "runtime_error", "compile_error"} <= kinds
