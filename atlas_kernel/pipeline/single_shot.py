"""Single shot (ablation condition A): one greedy generation, checked on the public examples."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from atlas_kernel.models.base import Completion, Model, Sampling
from atlas_kernel.pipeline.extract import completion_stops, extract_code
from atlas_kernel.pipeline.prompts import PromptStyle, code_prompt
from atlas_kernel.problems.types import Problem, require_problem


@dataclass
class SingleShotResult:
    problem_id: str
    code: str
    completion: Completion
    prompt: Any
    public_verdicts: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def public_passed(self) -> int:
        return sum(1 for v in self.public_verdicts if v["verdict"] == "passed")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["public_passed"] = self.public_passed
        return d


def solve_single(problem: Problem, model: Model, *, style: PromptStyle = "chat",
                 sampling: Sampling | None = None, verify: bool = True) -> SingleShotResult:
    problem = require_problem(problem, "solve_single")
    sampling = sampling or Sampling(temperature=0.0, max_tokens=512)
    cp = code_prompt(problem, style)
    if cp.completion_of is not None:
        sampling = sampling.with_(stop=tuple(sampling.stop) + completion_stops(problem))
    t0 = time.perf_counter()
    completion = model.generate(cp.prompt, sampling)
    t1 = time.perf_counter()
    code = extract_code(problem, completion.text, completion_of=cp.completion_of)
    verdicts: list[dict[str, Any]] = []
    if verify and problem.public_tests:
        from atlas_kernel.judging import run_public_tests

        verdicts = [v.to_dict() for v in run_public_tests(problem, code)]
    t2 = time.perf_counter()
    return SingleShotResult(problem.id, code, completion, cp.prompt, verdicts,
                            {"generate_s": t1 - t0, "verify_s": t2 - t1})
