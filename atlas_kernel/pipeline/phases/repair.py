"""Repair by multi-perspective chain of thought (PR-CoT), when no candidate passes its own checks.

Each round takes the best candidate so far, shows the model its failure on a PUBLIC example (or,
without public examples, on a kept self-test: input, expected majority output, actual output or
error), and asks for an analysis from one perspective followed by a corrected program, once per
perspective. Repaired programs are verified like any candidate; the loop stops as soon as one
passes every public example, or when rounds, tokens or time run out. The prompts differ only in
their last paragraph, so the backend's prefix cache evaluates the shared part once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from atlas_kernel.models.base import Sampling
from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.pipeline.phase import BasePhase, candidates_summary
from atlas_kernel.pipeline.phases import lens, self_tests
from atlas_kernel.pipeline.prompts import task_text
from atlas_kernel.pipeline.selectors import select
from atlas_kernel.pipeline.state import Candidate

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event

PERSPECTIVES = {
    "logic": "Check the logic line by line: which step computes the wrong value for this input?",
    "edge_cases": "Think about edge cases and completeness: empty input, one element, equal values, negative numbers.",
    "assumptions": "Question the assumptions: did the program misread the task, the input format or the output format?",
    "alternative": "Consider a different, simpler algorithm that is clearly correct, and use it instead.",
}


def failure_feedback(ctx: "RunContext", cand: Candidate) -> str | None:
    for v in cand.public:
        if not v.passed:
            return _describe(v.verdict, v.input, v.expected, v.actual, v.message)
    for i, t in enumerate(ctx.state.self_tests):
        if t.kept and cand.self_outputs.get(i) != t.expected:
            got = cand.self_outputs.get(i)
            return _describe("wrong_answer" if got is not None else "runtime_error", t.input, t.expected or "", got or "", "")
    return None


def _describe(verdict: str, inp: Any, expected: Any, actual: Any, message: str) -> str:
    parts = [f"It fails ({verdict}) on this test.", f"Input:\n{str(inp).strip()[:400]}", f"Expected:\n{str(expected).strip()[:300]}"]
    if actual:
        parts.append(f"Got:\n{str(actual).strip()[:300]}")
    if message:
        parts.append(f"Error:\n{message.strip()[:300]}")
    return "\n".join(parts)


def _needs_repair(ctx: "RunContext", cand: Candidate) -> bool:
    if cand.public_total:
        return cand.public_passed < cand.public_total
    kept = ctx.state.kept_self_tests
    return bool(kept) and ctx.state.self_passed(cand) < len(kept)


def _repair_rounds(ctx: "RunContext") -> Iterator["Event"]:
    state = ctx.state
    cfg = ctx.config
    for rnd in range(1, cfg.repair_rounds + 1):
        top = state.candidate(state.ranking[0]) if state.ranking else state.best_public()
        if top is None or not _needs_repair(ctx, top):
            ctx.emit("early_stop", "repair", reason="a candidate passes its checks: nothing to repair")
            yield from ctx.flush()
            return
        # later rounds repair the best candidate not repaired yet (greedy repairs of the same
        # program would repeat themselves) and sample a little
        repaired = {c.parent for c in state.candidates if c.origin == "repair"}
        order = state.ranking or [c.id for c in state.candidates]
        best = next((state.candidate(cid) for cid in order if cid not in repaired
                     and _needs_repair(ctx, state.candidate(cid))), top)
        temperature = 0.0 if rnd == 1 else 0.4
        feedback = failure_feedback(ctx, best)
        if feedback is None:
            return
        new: list[Candidate] = []
        for name in cfg.repair_perspectives:
            if ctx.out_of_budget():
                break
            hint = PERSPECTIVES.get(name, name)
            msgs = [{"role": "user", "content": (
                f"{task_text(ctx.problem, with_examples=False)}\n\nThis program is wrong:\n```python\n{best.code.strip()}\n```\n"
                f"{feedback}\n\n{hint}\nExplain the bug in one or two sentences, then write the corrected program in one ```python block.")}]
            c = ctx.generate("repair", f"repair round {rnd} ({name})", msgs,
                             Sampling(temperature=temperature, max_tokens=cfg.max_tokens, logprobs=True,
                                      seed=cfg.seed * 7919 + rnd * 31 + len(new)))
            cand = Candidate(id=state.new_id("repair"), code=extract_code(ctx.problem, c.text), origin="repair",
                             plan=f"{name}: {c.text.split('```', 1)[0].strip()[:300]}", parent=best.id,
                             completion_tokens=c.completion_tokens, mean_logprob=c.mean_logprob,
                             meta={"round": rnd, "perspective": name})
            ctx.add_candidate("repair", cand)
            new.append(cand)
            ctx.emit("repair", "repair", round=rnd, perspective=name, parent=best.id, candidate=cand.id)
            yield from ctx.flush()
            ctx.verify_public([cand])
            yield from ctx.flush()
            if cand.public_total and cand.public_passed == cand.public_total:
                break
        if not new:
            return
        yield from verify_self(ctx, new)
        if _lens_in_use(ctx):  # the newcomers compete on the same scale as the others
            yield from lens.score_candidates(ctx)
        state.ranking, state.selection_reason = select(state, cfg.selector)
        if not _needs_repair(ctx, state.candidate(state.ranking[0])):
            ctx.emit("early_stop", "repair", reason=f"repair round {rnd} produced a candidate that passes its checks")
            yield from ctx.flush()
            return


def _lens_in_use(ctx: "RunContext") -> bool:
    return ctx.config.lens and ctx.lens_scorer() is not None


def verify_self(ctx: "RunContext", cands: Sequence[Candidate]) -> Iterator["Event"]:
    if ctx.config.self_tests and ctx.state.self_tests:
        self_tests.reevaluate(ctx, "repair", cands)
    yield from ctx.flush()


class Repair(BasePhase):
    name = "repair"
    generative = True

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.repair

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        yield from _repair_rounds(ctx)
        # repaired candidates need energies too, to be compared with the others on the same scale
        if _lens_in_use(ctx) and any(c.energy is None for c in ctx.state.candidates):
            yield from lens.score_candidates(ctx)

    def summary(self, ctx: "RunContext") -> str:
        return candidates_summary(ctx)


PHASE = Repair()
