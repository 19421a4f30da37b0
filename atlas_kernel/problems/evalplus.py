"""HumanEval+ and MBPP+ from evalplus's release files, user-supplied:
`--suite humaneval+:HumanEvalPlus.jsonl` and `--suite mbpp+:MbppPlus.jsonl` (.jsonl or .jsonl.gz).

One JSON object per line; the fields read:

    task_id             "HumanEval/0" | "Mbpp/2"
    prompt              HumanEval+: signature + docstring; MBPP+: a docstring quoting one assert
    canonical_solution  the reference body (the reference program is prompt + canonical_solution)
    entry_point         the function to call
    base_input          the original tests' inputs: a list of argument lists
    plus_input          evalplus's extra inputs: a list of argument lists
    atol                float tolerance (0 = exact; evalplus then uses 1e-6 for float outputs)

The files carry no expected outputs: the grader runs the reference solution on every input (in
the sandbox) to get them and each test's time limit (`atlas_kernel.judging.evalplus`). A sample
passes when it passes the base inputs and then the plus inputs, evalplus's "base + extra" score.

MBPP+ inputs are stored as JSON, so tuples, sets and complex numbers arrive as lists and strings;
evalplus converts them back for a fixed list of tasks (its `mbpp_deserialize_inputs`), and so do
we (`mbpp_plus_inputs`), task by task, before anything runs.

What the solver sees: the prompt, with HumanEval+'s docstring examples (as for HumanEval) or
MBPP+'s quoted assert as public examples. The reference solution and the inputs stay hidden.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Callable, Literal

from atlas_kernel.problems.errors import ProblemFormatError, iter_json_lines
from atlas_kernel.problems.humaneval import parse_docstring_examples
from atlas_kernel.problems.mbpp import public_case
from atlas_kernel.problems.types import HiddenTests, Problem, ReferenceTests, Task

Flavour = Literal["humaneval", "mbpp"]
_REQUIRED = ("task_id", "prompt", "canonical_solution", "entry_point", "base_input", "plus_input")
# evalplus compares only "is the output None?" for these regex tasks (its MBPP_OUTPUT_NOT_NONE_TASKS)
MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")


# -- MBPP+ input conversion (task number -> how its JSON inputs become Python arguments) ------
def _tuples(x: Any) -> Any:
    return tuple(_tuples(i) for i in x) if isinstance(x, list) else x


def _args_tuples(inp: list) -> list:  # every argument list -> tuple
    return [tuple(a) for a in inp]


def _args_of_tuples(inp: list) -> list:  # every argument: a list of lists -> list of tuples
    return [[tuple(a) for a in arg] for arg in inp]


_CONVERT: dict[int, Callable[[list], list]] = {}
for _n in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809):
    _CONVERT[_n] = _args_tuples
for _n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
    _CONVERT[_n] = _args_of_tuples
for _n in (75, 413, 444, 753):
    _CONVERT[_n] = lambda inp: [[tuple(a) for a in inp[0]], inp[1]]
for _n in (106, 750):
    _CONVERT[_n] = lambda inp: [inp[0], tuple(inp[1])]
for _n in (250, 405, 446, 617, 720, 763, 808):
    _CONVERT[_n] = lambda inp: [tuple(inp[0]), inp[1]]
for _n in (259, 401, 445):
    _CONVERT[_n] = lambda inp: [tuple(tuple(a) for a in arg) for arg in inp]
for _n in (580, 615, 791):
    _CONVERT[_n] = _tuples
_CONVERT[115] = lambda inp: [[set(i) if isinstance(i, list) and i else {} for i in inp[0]]]
_CONVERT[124] = lambda inp: (float(inp[0]), complex(inp[1]))
_CONVERT[252] = lambda inp: [complex(inp[0])]
_CONVERT[278] = lambda inp: [tuple(tuple(i) if isinstance(i, list) else i for i in inp[0])]
_CONVERT[307] = lambda inp: [tuple(inp[0]), inp[1], inp[2]]
_CONVERT[722] = lambda inp: [{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]]


def mbpp_plus_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ inputs of one task as evalplus hands them to the function."""
    try:
        number = int(task_id.rsplit("/", 1)[-1])
    except ValueError:
        return inputs
    convert = _CONVERT.get(number)
    return [convert(inp) for inp in inputs] if convert else inputs


# -- loading ----------------------------------------------------------------------------------
def _mbpp_statement(prompt: str) -> str:
    text = prompt.strip()
    for quote in ('"""', "'''"):
        if text.startswith(quote) and text.endswith(quote) and len(text) >= 6:
            return text[3:-3].strip()
    return text


def _row_task(row: Any, source: str, line: int, flavour: Flavour) -> Task:
    if not isinstance(row, dict):
        raise ProblemFormatError(source, "each line must be a JSON object", line=line)
    for key in _REQUIRED:
        if key not in row:
            raise ProblemFormatError(source, "missing field", line=line, field=key,
                                     fix="is this evalplus's HumanEvalPlus.jsonl / MbppPlus.jsonl?")
    for key in ("task_id", "prompt", "canonical_solution", "entry_point"):
        if not isinstance(row[key], str) or (key != "canonical_solution" and not row[key].strip()):
            raise ProblemFormatError(source, "must be a non-empty string", line=line, field=key)
    for key in ("base_input", "plus_input"):
        if not isinstance(row[key], list) or not all(isinstance(x, list) for x in row[key]):
            raise ProblemFormatError(source, "must be a list of argument lists", line=line, field=key)
    atol = row.get("atol", 0) or 0
    if isinstance(atol, bool) or not isinstance(atol, (int, float)):
        raise ProblemFormatError(source, "must be a number", line=line, field="atol")
    tid, prompt, entry = row["task_id"].strip(), row["prompt"], row["entry_point"].strip()
    base, plus = row["base_input"], row["plus_input"]
    if flavour == "mbpp":
        base, plus = mbpp_plus_inputs(tid, base), mbpp_plus_inputs(tid, plus)
        statement = _mbpp_statement(prompt)
        shown = next((ln.strip() for ln in statement.splitlines() if ln.strip().startswith("assert ")), None)
        case = public_case(shown, entry) if shown else None
        problem = Problem(id=tid, statement=statement, kind="functional", entry_point=entry, io_format="python",
                          public_tests=(case,) if case else (), metadata={"suite": "mbpp+"})
    else:
        problem = Problem(id=tid, statement=prompt, kind="functional", starter_code=prompt, entry_point=entry,
                          io_format="python", public_tests=tuple(parse_docstring_examples(prompt, entry)),
                          metadata={"suite": "humaneval+"})
    reference = ReferenceTests(solution=prompt + row["canonical_solution"], entry_point=entry,
                               input_sets=(("base", base), ("plus", plus)), atol=float(atol), flavour=flavour,
                               output_not_none=flavour == "mbpp" and entry in MBPP_NOT_NONE)
    return Task(problem, HiddenTests(tid, reference=reference))


def load_evalplus(path: str | Path, flavour: Flavour) -> list[Task]:
    path = Path(path)
    text = None
    if path.suffix == ".gz":
        try:
            text = gzip.open(path, "rt", encoding="utf-8").read()
        except (OSError, EOFError) as exc:
            raise ProblemFormatError(str(path), f"cannot read ({exc})", fix="check the path of the evalplus file") from None
    tasks: list[Task] = []
    seen: set[str] = set()
    for line_no, row in iter_json_lines(path, fix="check the path of the evalplus file", text=text):
        task = _row_task(row, str(path), line_no, flavour)
        if task.id in seen:
            raise ProblemFormatError(str(path), f"duplicate id {task.id!r}", line=line_no, field="task_id")
        seen.add(task.id)
        tasks.append(task)
    return tasks
