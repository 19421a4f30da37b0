"""GPQA-style multiple choice from a user-supplied CSV (`--suite gpqa:FILE.csv`).

Columns used: `Question`, `Correct Answer`, `Incorrect Answer 1`, `Incorrect Answer 2`,
`Incorrect Answer 3` (required); `Record ID` (the task id when present, else `gpqa/<row>`),
`High-level domain`, `Subdomain`, `Writer's Difficulty Estimate` (optional, kept as metadata).

The four answers are shuffled deterministically: the permutation is drawn from a generator
seeded by sha256(seed, task id), so every process (and every rerun) sees the same letters
without sharing state, and the correct answer's position does not follow the file's column
order. The solver sees the question and the lettered choices; the grader alone holds the
correct letter (a hidden test case with empty input and the letter as output).

These questions are not code: the benchmark harness answers them with one generation
(`atlas_kernel.bench.choice`) and grades by letter match, never through the code pipeline.
"""

from __future__ import annotations

import csv
import hashlib
import random
from pathlib import Path

from atlas_kernel.problems.errors import ProblemFormatError
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase

LETTERS = "ABCD"
REQUIRED = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def shuffled_choices(task_id: str, correct: str, incorrect: list[str], seed: int = 0) -> tuple[list[str], str]:
    """(choices in display order, letter of the correct one)."""
    digest = hashlib.sha256(f"{seed}:{task_id}".encode("utf-8")).digest()
    rng = random.Random(int.from_bytes(digest[:8], "little"))
    options = [correct, *incorrect]
    order = list(range(len(options)))
    rng.shuffle(order)
    choices = [options[i] for i in order]
    return choices, LETTERS[order.index(0)]


def format_question(question: str, choices: list[str]) -> str:
    lines = [question.strip(), ""]
    lines += [f"{LETTERS[i]}) {c}" for i, c in enumerate(choices)]
    return "\n".join(lines)


def load_gpqa(path: str | Path, *, seed: int = 0) -> list[Task]:
    path = Path(path)
    try:
        fh = path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise ProblemFormatError(str(path), f"cannot open ({exc.strerror})", fix="check the path of the GPQA CSV file") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    with fh:
        try:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            for col in REQUIRED:
                if col not in header:
                    raise ProblemFormatError(str(path), "missing column", line=1, field=col,
                                             fix=f"a GPQA CSV has the columns {', '.join(REQUIRED)}")
            start = reader.line_num + 1  # a quoted field may span lines: report where the row starts
            for index, row in enumerate(reader, 1):
                line = start
                start = reader.line_num + 1
                if None in row:
                    raise ProblemFormatError(str(path), "more fields than the header has columns", line=line)
                values = {}
                for col in REQUIRED:
                    value = (row.get(col) or "").strip()
                    if not value:
                        raise ProblemFormatError(str(path), "empty", line=line, field=col)
                    values[col] = value
                tid = (row.get("Record ID") or "").strip() or f"gpqa/{index}"
                if tid in seen:
                    raise ProblemFormatError(str(path), f"duplicate id {tid!r}", line=line, field="Record ID")
                seen.add(tid)
                choices, letter = shuffled_choices(tid, values["Correct Answer"],
                                                   [values[f"Incorrect Answer {i}"] for i in (1, 2, 3)], seed)
                meta = {"suite": "gpqa", "format": "multiple_choice", "letters": LETTERS, "shuffle_seed": seed,
                        "domain": (row.get("High-level domain") or "").strip(),
                        "subdomain": (row.get("Subdomain") or "").strip(),
                        "difficulty": (row.get("Writer's Difficulty Estimate") or "").strip()}
                problem = Problem(id=tid, statement=format_question(values["Question"], choices), kind="stdio",
                                  metadata={k: v for k, v in meta.items() if v != ""})
                tasks.append(Task(problem, HiddenTests(tid, cases=(TestCase("", letter),))))
        except csv.Error as exc:
            raise ProblemFormatError(str(path), f"not valid CSV ({exc})", line=reader.line_num) from None
        except UnicodeDecodeError:
            raise ProblemFormatError(str(path), "is not UTF-8 text") from None
    return tasks
