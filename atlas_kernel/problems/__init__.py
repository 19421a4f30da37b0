"""Problems (what a solver sees), tasks (problem + hidden tests) and their loaders."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from atlas_kernel.errors import AtlasError
from atlas_kernel.problems.errors import ProblemFormatError
from atlas_kernel.problems.types import HiddenTests, Problem, Task, TestCase, require_problem

__all__ = [
    "Problem", "Task", "HiddenTests", "TestCase", "ProblemFormatError", "require_problem",
    "load_problem", "load_suite", "load_task", "example_names", "SUITES_HELP",
]

SUITES_HELP = ("humaneval, lcb:FILE.jsonl (LiveCodeBench code_generation_lite), mbpp:FILE.jsonl (mbpp-challenge:FILE "
               "adds challenge_test_list), humaneval+:HumanEvalPlus.jsonl, mbpp+:MbppPlus.jsonl (evalplus), gpqa:FILE.csv "
               "or jsonl:FILE (atlas_kernel's own format)")


def example_names() -> list[str]:
    root = resources.files("atlas_kernel").joinpath("data/examples")
    return sorted(p.name.rsplit(".", 1)[0] for p in root.iterdir() if p.name.endswith((".md", ".json")))


def _example_path(name: str) -> Path:
    root = Path(str(resources.files("atlas_kernel").joinpath("data/examples")))
    for suffix in (".md", ".json"):
        if (root / (name + suffix)).exists():
            return root / (name + suffix)
    raise AtlasError(f"no bundled example {name!r} — choose one of: {', '.join(example_names())}")


def load_problem(spec: str | Path) -> Problem:
    """A Problem from `example:NAME`, a .md/.txt statement file, a .json/.jsonl problem file
    (our format; a .jsonl must hold exactly one problem), or a statement given as text."""
    if isinstance(spec, str) and spec.startswith("example:"):
        spec = _example_path(spec.split(":", 1)[1])
    path = Path(spec)
    looks_like_path = isinstance(spec, Path) or ("\n" not in str(spec) and len(str(spec)) < 4096)
    if looks_like_path and path.exists():
        if path.is_dir():
            raise AtlasError(f"{path} is a directory — give a problem file (.md, .txt, .json, .jsonl)")
        if path.suffix in (".json", ".jsonl"):
            from atlas_kernel.problems.jsonl import iter_jsonl

            items = list(iter_jsonl(path))
            if len(items) != 1:
                raise ProblemFormatError(str(path), f"holds {len(items)} problems; `solve` takes one",
                                         fix="use `atlas bench --suite jsonl:FILE` for many")
            return items[0][0]
        from atlas_kernel.problems.markdown import load_statement_file

        return load_statement_file(path)
    if looks_like_path and path.suffix in (".md", ".txt", ".json", ".jsonl"):
        raise AtlasError(f"problem file {str(spec)!r} does not exist — check the path")
    from atlas_kernel.problems.markdown import parse_statement

    return parse_statement(str(spec), source="<text>")


def load_suite(spec: str, *, limit: int | None = None, task_ids: list[str] | None = None,
               since: str | None = None, until: str | None = None, difficulty: str | None = None) -> list[Task]:
    """Tasks of a suite: see SUITES_HELP."""
    name, _, arg = spec.partition(":")
    if name == "humaneval":
        from atlas_kernel.problems.humaneval import load_humaneval

        tasks = load_humaneval(task_ids=task_ids)
    elif name in ("lcb", "livecodebench"):
        if not arg:
            raise AtlasError("the LiveCodeBench suite needs its file: --suite lcb:PATH/test.jsonl")
        from atlas_kernel.problems.livecodebench import load_livecodebench

        tasks = load_livecodebench(arg, since=since, until=until, difficulty=difficulty)
    elif name == "jsonl":
        if not arg:
            raise AtlasError("the jsonl suite needs its file: --suite jsonl:PATH.jsonl")
        from atlas_kernel.problems.jsonl import load_jsonl_tasks

        tasks = load_jsonl_tasks(arg)
    elif name in ("mbpp", "mbpp-challenge"):
        if not arg:
            raise AtlasError(f"the MBPP suite needs its file: --suite {name}:PATH.jsonl")
        from atlas_kernel.problems.mbpp import load_mbpp

        tasks = load_mbpp(arg, challenge=name == "mbpp-challenge")
    elif name in ("humaneval+", "mbpp+"):
        if not arg:
            raise AtlasError(f"the {name} suite needs evalplus's file: --suite {name}:PATH.jsonl")
        from atlas_kernel.problems.evalplus import load_evalplus

        tasks = load_evalplus(arg, "humaneval" if name == "humaneval+" else "mbpp")
    elif name == "gpqa":
        if not arg:
            raise AtlasError("the GPQA suite needs its file: --suite gpqa:PATH.csv")
        from atlas_kernel.problems.gpqa import load_gpqa

        tasks = load_gpqa(arg)
    else:
        raise AtlasError(f"unknown suite {spec!r} — use {SUITES_HELP}")
    if task_ids is not None and name != "humaneval":
        known = {t.id: t for t in tasks}
        missing = [t for t in task_ids if t not in known]
        if missing:
            raise AtlasError(f"suite {spec!r} has no task(s) {', '.join(missing)}")
        tasks = [known[t] for t in task_ids]
    return tasks[:limit] if limit is not None else tasks


def load_task(spec: str, task_id: str) -> Task:
    return load_suite(spec, task_ids=[task_id])[0]


def problem_json(problem: Problem) -> str:
    return json.dumps(problem.to_dict(), indent=2)
