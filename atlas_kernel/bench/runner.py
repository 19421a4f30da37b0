"""Benchmark runs: solve every task of a suite under a condition, grade each final program once
with the hidden tests, append one JSON line per finished task (flushed and fsynced), resume after
a crash without repeating or duplicating a task.

Solving and grading are separated inside one worker: the pipeline gets `task.problem`; the
`Grader` (the only holder of the hidden tests) sees the final code afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas_kernel.grading import grader_for
from atlas_kernel.bench.rundir import TRACES_DIR, trace_name, write_json as _write_json
from atlas_kernel.problems.types import Task


@dataclass(frozen=True)
class RunSpec:
    suite: str
    condition: str
    model: str | None = None
    seed: int = 0
    overrides: tuple[tuple[str, Any], ...] = ()  # PipelineConfig overrides, as sorted pairs
    online_lens: bool = False  # recalibrate the Lens after each task from its public-example outcomes
    lens: str | None = None  # --lens: a Lens file or cross-fitted set instead of the model's default Lens

    def config(self):
        from atlas_kernel.pipeline.config import PipelineConfig

        return PipelineConfig.for_condition(self.condition, seed=self.seed, **dict(self.overrides))

    def to_dict(self) -> dict[str, Any]:
        d = {"suite": self.suite, "condition": self.condition, "model": self.model, "seed": self.seed,
             "overrides": dict(self.overrides)}
        if self.online_lens:
            d["online_lens"] = "public"
        if self.lens:
            d["lens"] = self.lens
        return d


def solve_and_grade(task: Task, model: Any, spec: RunSpec, trace_dir: Path | None = None, style: str | None = None,
                    energy_scorer: Any = None) -> dict[str, Any]:
    from atlas_kernel.pipeline.pipeline import Pipeline
    from atlas_kernel.pipeline.state import Candidate

    t0 = time.perf_counter()
    pipe = Pipeline(model, spec.config(), style=style, energy_scorer=energy_scorer)
    solution = pipe.run(task.problem)  # the Problem only
    solve_s = time.perf_counter() - t0
    cands = [Candidate.from_dict(c) for c in (solution.trace.candidates if solution.trace else [])]
    passes_public = {c.id: c.passes_public for c in cands}
    online = None
    if hasattr(energy_scorer, "finish_problem"):
        # recalibrate BEFORE grading, from what the pipeline saw: public-example verdicts only
        online = energy_scorer.finish_problem(passes_public)
    grade = grader_for(task).grade(solution.code)
    trace_ref = None
    if trace_dir is not None and solution.trace is not None:
        name = trace_name(task.id)
        solution.trace.save(trace_dir / name)
        trace_ref = str(Path(TRACES_DIR) / name)
    calls = solution.trace.llm_calls if solution.trace else []
    phase_tokens: dict[str, int] = {}
    for c in calls:
        phase_tokens[c["phase"]] = phase_tokens.get(c["phase"], 0) + c["completion_tokens"]
    split = solution.time_split or {}
    model_s = float(split.get("model_s", 0.0))
    tok_s = solution.tokens / model_s if model_s > 0 else None
    return {
        "task_id": task.id, "condition": spec.condition, "mode": "pipeline", "seed": spec.seed,
        "passed": grade.passed, "grade": grade.summary,
        "hidden_verdicts": [v.verdict for v in grade.verdicts],
        "public_passed": solution.public_passed, "public_total": solution.public_total,
        "solved_by": solution.solved_by, "chosen": solution.candidate, "stopped_early": solution.stopped_early,
        "tokens": solution.tokens, "phase_tokens": phase_tokens, "wall_s": solve_s, "phase_s": solution.phase_times,
        "model_s": model_s, "sandbox_s": float(split.get("sandbox_s", 0.0)), "other_s": float(split.get("other_s", 0.0)),
        "tokens_per_s": tok_s, "grade_s": grade.wall_s, "n_candidates": len(cands),
        "origins_passing_public": sorted({c.origin for c in cands if passes_public[c.id]}),
        "code": solution.code, "trace": trace_ref, "metadata": dict(task.problem.metadata),
        **({"online_lens": online} if online is not None else {}),
        **({"lens_fold": energy_scorer.fold_of.get(task.problem.id)} if hasattr(energy_scorer, "fold_of") else {}),
        **_drafting(int(split.get("drafted_tokens", 0)), int(split.get("accepted_tokens", 0))),
    }


def _drafting(drafted: int, accepted: int) -> dict[str, int]:
    """A row's drafted and accepted tokens, only when speculative decoding ran (progress shows them)."""
    return {"drafted_tokens": drafted, "accepted_tokens": accepted} if drafted else {}


def sample_and_grade(task: Task, model: Any, *, n: int, temperature: float, seed: int = 0, max_tokens: int | None = None,
                     trace_dir: Path | None = None, style: str | None = None) -> dict[str, Any]:
    """Plain sampling, condition-free: `n` samples of the single-shot request (the probe's prompt,
    budget and code extraction: condition A) at `temperature`, each graded by the hidden tests; the
    row's (n, c) feed the unbiased pass@k estimator."""
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.phases.probe import single_shot_request

    if n < 1:
        raise ValueError(f"need at least one sample, got {n}")
    style = style or "chat"
    config = PipelineConfig.for_condition("A", seed=seed, **({"max_tokens": max_tokens} if max_tokens else {}))
    req = single_shot_request(task.problem, style, config)  # the Problem only: the grader below holds the hidden tests
    samplings = [req.sampling.with_(temperature=temperature, top_p=0.95 if temperature > 0 else 1.0,
                                    seed=seed * 100003 + i) for i in range(n)]
    grader = grader_for(task)
    t0 = time.perf_counter()
    completions = []
    for lo in range(0, n, 8):  # bounded batches: a batched backend decodes them together
        completions += model.generate_many(req.prompt, samplings[lo:lo + 8])
    gen_s = time.perf_counter() - t0
    samples = []
    t1 = time.perf_counter()
    for s, c in zip(samplings, completions):
        code = req.code(c.text)
        g = grader.grade(code)
        samples.append({"seed": s.seed, "passed": g.passed, "grade": g.summary,
                        "hidden_verdicts": [v.verdict for v in g.verdicts], "tokens": c.completion_tokens,
                        "gen_s": c.elapsed_s, "code": code})
    grade_s = time.perf_counter() - t1
    c_ok = sum(1 for s in samples if s["passed"])
    tokens = sum(s["tokens"] for s in samples)
    trace_ref = None
    if trace_dir is not None:
        name = trace_name(task.id)
        _write_json(trace_dir / name, {"task_id": task.id, "mode": "samples", "prompt": req.prompt,
                                        "completions": [c.text for c in completions],
                                        "samplings": [{"temperature": s.temperature, "seed": s.seed} for s in samplings]})
        trace_ref = str(Path(TRACES_DIR) / name)
    return {
        "task_id": task.id, "condition": None, "mode": "samples", "seed": seed, "temperature": temperature,
        "n_samples": n, "n_correct": c_ok, "passed": c_ok > 0, "grade": f"{c_ok}/{n} samples passed",
        "hidden_verdicts": [s["grade"] for s in samples], "solved_by": None, "tokens": tokens,
        "phase_tokens": {"sample": tokens}, "wall_s": gen_s, "phase_s": {"sample": gen_s}, "grade_s": grade_s,
        "model_s": gen_s, "tokens_per_s": tokens / gen_s if gen_s > 0 else None,  # all of it was generation
        **_drafting(sum(c.drafted_tokens for c in completions), sum(c.accepted_tokens for c in completions)),
        "n_candidates": n, "samples": samples, "code": next((s["code"] for s in samples if s["passed"]), samples[0]["code"]),
        "trace": trace_ref, "metadata": dict(task.problem.metadata),
    }

