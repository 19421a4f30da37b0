"""Multiple-choice questions (GPQA-style): one generation, the letter parsed, graded by letter match.

This is the router's fast path taken deliberately: the question is not code, so no candidates,
tests or repairs apply. It lives in the benchmark harness, not in the pipeline. The solver side
(`answer_choice`) sees the Problem (question + lettered choices); `grade_choice` alone reads the
correct letter from the task's hidden tests.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas_kernel.models.base import Completion, Model, Prompt, Sampling
from atlas_kernel.problems.types import Problem, Task, require_problem

INSTRUCTION = ("Answer the multiple-choice question. Think briefly if needed, then finish with a line "
               "of the form 'Answer: X' where X is one of {letters}.")


def is_choice_problem(problem: Problem) -> bool:
    return problem.metadata.get("format") == "multiple_choice"


def _letters(problem: Problem) -> str:
    return str(problem.metadata.get("letters") or "ABCD")


def choice_prompt(problem: Problem, style: str = "chat") -> Prompt:
    letters = _letters(problem)
    if style == "completion":
        # a base model continues a worked-exam layout; the answer letter is its next token
        return f"Question: {problem.statement.strip()}\n\nAnswer: ("
    listed = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    return [{"role": "user", "content": f"{problem.statement.strip()}\n\n{INSTRUCTION.format(letters=listed)}"}]


def parse_letter(text: str, letters: str = "ABCD") -> str | None:
    """The chosen letter, or None. Preference: the last 'Answer: X' / 'answer is X'; then a reply
    that starts with a marked letter ('(B)', 'B)', 'B.', 'B:', or just 'B'); then a lone letter if exactly one occurs."""
    cls = f"[{re.escape(letters)}]"
    explicit = re.findall(rf"answer\s*(?:is|:)?\s*:?\s*\(?\s*({cls})\b", text, re.IGNORECASE)
    explicit = [m.upper() for m in explicit if m.upper() in letters]
    if explicit:
        return explicit[-1]
    m = re.match(rf"\s*(?:\(({cls})\)|({cls})(?:\)|\.|:|\s*$))", text)
    if m:
        return m.group(1) or m.group(2)
    lone = set(re.findall(rf"(?<![A-Za-z])\(?({cls})\)?(?![A-Za-z])", text))
    return lone.pop() if len(lone) == 1 else None


@dataclass
class ChoiceAnswer:
    letter: str | None
    completion: Completion
    prompt: Prompt


def answer_choice(problem: Problem, model: Model, *, style: str = "chat", sampling: Sampling | None = None) -> ChoiceAnswer:
    problem = require_problem(problem, "answer_choice")
    prompt = choice_prompt(problem, style)
    sampling = sampling or Sampling(temperature=0.0, max_tokens=256)
    if style == "completion":
        sampling = sampling.with_(max_tokens=min(sampling.max_tokens, 4))
    c = model.generate(prompt, sampling)
    return ChoiceAnswer(parse_letter(c.text, _letters(problem)), c, prompt)


def grade_choice(task: Task, letter: str | None) -> bool:
    """Grader side: the correct letter is the hidden test's expected output."""
    expected = task.hidden.cases[0].output.strip().upper()
    return letter is not None and letter.upper() == expected


def solve_and_grade_choice(task: Task, model: Model, *, condition: str | None, seed: int = 0, style: str = "chat",
                           max_tokens: int = 256, n_samples: int | None = None, temperature: float = 0.0,
                           trace_dir: Path | None = None) -> dict[str, Any]:
    """A result row like the code pipeline's; with `n_samples`, that many sampled answers (pass@k)."""
    n = n_samples or 1
    t0 = time.perf_counter()
    answers = [answer_choice(task.problem, model, style=style,
                             sampling=Sampling(temperature=temperature if n_samples else 0.0, max_tokens=max_tokens,
                                               seed=seed * 100003 + i))
               for i in range(n)]
    wall = time.perf_counter() - t0
    graded = [grade_choice(task, a.letter) for a in answers]
    verdicts = ["passed" if ok else ("no_answer" if a.letter is None else "wrong_answer") for a, ok in zip(answers, graded)]
    tokens = sum(a.completion.completion_tokens for a in answers)
    trace_ref = None
    if trace_dir is not None:
        from atlas_kernel.bench.rundir import TRACES_DIR, trace_name, write_json as _write_json

        name = trace_name(task.id)
        _write_json(trace_dir / name, {"task_id": task.id, "mode": "choice", "prompt": answers[0].prompt,
                                        "completions": [a.completion.text for a in answers],
                                        "letters": [a.letter for a in answers]})
        trace_ref = str(Path(TRACES_DIR) / name)
    row: dict[str, Any] = {
        "task_id": task.id, "condition": condition, "mode": "choice", "seed": seed,
        "route": {"path": "fast", "reason": "multiple-choice question: not code, answered in one generation"},
        "passed": graded[0] if not n_samples else any(graded), "grade": verdicts[0] if not n_samples else f"{sum(graded)}/{n} samples passed",
        "hidden_verdicts": verdicts, "answer": answers[0].letter, "answers": [a.letter for a in answers],
        "public_passed": 0, "public_total": 0, "solved_by": "answer" if graded[0] else None, "chosen": None,
        "stopped_early": None, "tokens": tokens, "phase_tokens": {"answer": tokens}, "wall_s": wall,
        "phase_s": {"answer": wall}, "n_candidates": 1, "code": "", "completion": answers[0].completion.text,
        "trace": trace_ref, "metadata": dict(task.problem.metadata),
    }
    if n_samples:
        row.update({"n_samples": n, "n_correct": sum(graded), "temperature": temperature, "solved_by": None})
    return row
