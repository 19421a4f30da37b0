"""What a solver may see (`Problem`) and what only the grader holds (`HiddenTests`).

A `Task` pairs them; `atlas_kernel.grading.grader_for(task)` builds its grader (this module
imports nothing of grading or judging: problems sit below both).

The separation is structural: `Problem` has no field that can carry hidden tests,
`HiddenTests` is only reachable through a `Task`, and every solver entry point
(`atlas_kernel.pipeline`, `atlas_kernel.solve`) checks that it was handed a
`Problem` and refuses a `Task` or `HiddenTests` with a clear error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

ProblemKind = Literal["stdio", "functional"]

# How a TestCase's `input`/`output` strings are to be read:
#   "text"   - stdio: `input` is fed on stdin, `output` is the expected stdout.
#   "json"   - functional (LiveCodeBench): `input` holds one JSON value per line, the
#              positional arguments; `output` is the JSON of the return value.
#   "python" - functional (HumanEval doctests): `input` is a Python expression that
#              calls the entry point (e.g. "round(find_zero([1, 2]), 2)"), `output`
#              a Python literal of the expected value.
IOFormat = Literal["text", "json", "python"]


@dataclass(frozen=True)
class TestCase:
    input: str
    output: str

    __test__ = False  # keep pytest from collecting this class


@dataclass(frozen=True)
class Problem:
    """Everything the pipeline is allowed to know about a task."""

    id: str
    statement: str
    kind: ProblemKind
    public_tests: tuple[TestCase, ...] = ()
    starter_code: str = ""
    # functional problems: the function (or method of `class_name`) to call
    entry_point: str | None = None
    class_name: str | None = None
    io_format: IOFormat = "text"
    # platform, difficulty, contest_date, source suite ... (never test data)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("stdio", "functional"):
            raise ValueError(f"problem {self.id!r}: kind must be 'stdio' or 'functional', got {self.kind!r}")
        if self.kind == "functional" and not self.entry_point:
            raise ValueError(f"problem {self.id!r}: a functional problem needs an entry_point (the function to call)")
        if self.kind == "stdio" and self.io_format != "text":
            raise ValueError(f"problem {self.id!r}: stdio problems use io_format 'text', got {self.io_format!r}")
        if self.kind == "functional" and self.io_format == "text":
            raise ValueError(f"problem {self.id!r}: functional problems use io_format 'json' or 'python'")
        object.__setattr__(self, "public_tests", tuple(self.public_tests))
        object.__setattr__(self, "metadata", dict(self.metadata))

    def replace(self, **changes: Any) -> "Problem":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["public_tests"] = [dataclasses.asdict(t) for t in self.public_tests]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Problem":
        d = dict(d)
        d["public_tests"] = tuple(TestCase(**t) for t in d.get("public_tests", ()))
        return cls(**d)


@dataclass(frozen=True)
class ReferenceTests:
    """Hidden tests given as inputs only (evalplus): the expected outputs, and each test's time
    limit, come from running the reference solution on them.

    solution     the reference program (prompt + canonical solution)
    input_sets   named lists of argument lists, graded in order: ("base", [...]), ("plus", [...])
    atol         the task's float tolerance (0: exact, 1e-6 once an expected output is a float)
    flavour      "humaneval" or "mbpp": which of evalplus's special oracles apply
    output_not_none   compare only whether the output is None (evalplus's regex tasks)
    """

    solution: str
    entry_point: str
    input_sets: tuple[tuple[str, Sequence[Any]], ...]
    atol: float = 0.0
    flavour: Literal["humaneval", "mbpp"] = "humaneval"
    output_not_none: bool = False

    def __repr__(self) -> str:
        return f"ReferenceTests({self.entry_point!r}, {sum(len(x) for _, x in self.input_sets)} inputs)"

    @property
    def n_tests(self) -> int:
        return sum(len(inputs) for _, inputs in self.input_sets)


class HiddenTests:
    """The grader's private tests for one problem.

    Input/output cases (LiveCodeBench, our JSONL), a check program (HumanEval's
    `check(candidate)`), reference-judged inputs (evalplus), or cases and a check program.
    Its repr never shows the content, so it cannot leak into a log or prompt by accident.
    """

    __slots__ = ("problem_id", "_cases", "_check_program", "_reference")

    def __init__(self, problem_id: str, cases: tuple[TestCase, ...] = (), check_program: str | None = None,
                 reference: ReferenceTests | None = None):
        if not cases and not check_program and reference is None:
            raise ValueError(f"problem {problem_id!r}: hidden tests need cases, a check program or reference inputs")
        self.problem_id = problem_id
        self._cases = tuple(cases)
        self._check_program = check_program
        self._reference = reference

    @property
    def cases(self) -> tuple[TestCase, ...]:
        return self._cases

    @property
    def check_program(self) -> str | None:
        return self._check_program

    @property
    def reference(self) -> ReferenceTests | None:
        return self._reference

    def __len__(self) -> int:
        return (len(self._cases) + (1 if self._check_program else 0)
                + (self._reference.n_tests if self._reference else 0))

    def __repr__(self) -> str:
        extra = (", check program" if self._check_program else "") + (", reference inputs" if self._reference else "")
        return f"HiddenTests({self.problem_id!r}, {len(self._cases)} cases{extra})"

    def __reduce__(self):  # noqa: D105 - refuse to travel implicitly (e.g. into a worker that runs the pipeline)
        raise TypeError("HiddenTests cannot be pickled: they stay with the grader (use grader_for(task) in the grading process)")


@dataclass(frozen=True)
class Task:
    """A benchmark item: the `Problem` a solver sees plus the grader's `HiddenTests`."""

    problem: Problem
    hidden: HiddenTests = field(repr=False)

    @property
    def id(self) -> str:
        return self.problem.id


def require_problem(obj: object, where: str) -> Problem:
    """Solver entry points call this: they accept a Problem and nothing that carries hidden tests."""
    if isinstance(obj, Problem):
        return obj
    if isinstance(obj, Task):
        raise TypeError(f"{where} takes a Problem, not a Task: pass task.problem (hidden tests stay with the grader)")
    if isinstance(obj, HiddenTests):
        raise TypeError(f"{where} never receives hidden tests: pass the Problem only")
    raise TypeError(f"{where} takes an atlas_kernel Problem, got {type(obj).__name__}; load one with atlas_kernel.problems.load_problem()")
