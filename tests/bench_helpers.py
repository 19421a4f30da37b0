"""Small suites and scripted models for the benchmark-harness tests (deterministic, fast)."""

from __future__ import annotations

import json
from pathlib import Path

from atlas_kernel.problems.livecodebench import encode_private_tests

RIGHT = "a, b = map(int, input().split())\nprint(a + b + {i})"
WRONG = "print(0)"


def fence(code: str) -> str:
    return "```python\n" + code + "\n```"


def write_suite(path: Path, n: int = 6) -> Path:
    """n stdio tasks `addI`: print a + b + I. One public example, two hidden tests each."""
    rows = [{"id": f"add{i}", "statement": f"Problem add{i}: read two integers and print their sum plus {i}.",
             "public_tests": [{"input": "1 2\n", "output": f"{3 + i}\n"}],
             "hidden_tests": [{"input": "5 7\n", "output": f"{12 + i}\n"}, {"input": "0 0\n", "output": f"{i}\n"}]}
            for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def solvable(i: int) -> bool:
    return i % 3 != 0  # add0, add3, ... get a wrong answer from the scripted model


def write_model(path: Path, n: int = 6, delay_s: float = 0.0) -> Path:
    """A scripted:FILE model answering addI right when solvable(i), else wrong."""
    rules = [{"contains": f"Problem add{i}:", "response": fence(RIGHT.format(i=i) if solvable(i) else WRONG)} for i in range(n)]
    path.write_text(json.dumps({"name": "scripted-test", "delay_s": delay_s, "rules": rules, "default": fence(WRONG)}))
    return path


def task_index(prompt) -> int:
    text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
    return int(text.split("Problem add", 1)[1].split(":", 1)[0])


def lcb_row(qid: str, *, platform: str, difficulty: str, date: str) -> dict:
    public = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    private = [{"input": "5 5\n", "output": "10\n", "testtype": "stdin"}, {"input": "0 0\n", "output": "0\n", "testtype": "stdin"}]
    return {"question_title": qid, "question_content": f"Problem {qid}: read two integers, print their sum.", "platform": platform,
            "question_id": qid, "contest_id": "c1", "contest_date": date, "starter_code": "", "difficulty": difficulty,
            "public_test_cases": json.dumps(public), "private_test_cases": encode_private_tests(private), "metadata": "{}"}
