"""The probe: the single-shot answer. Condition A is exactly this phase; every front end's single
shot (`atlas solve --condition A`, `%atlas_solve --condition A`, `atlas bench --condition A`) runs it,
and `atlas bench --samples N` samples the same request (`single_shot_request`) at a temperature.

When the probe passes every public example the solve may end here (`early_stop`); with the router
on, only when the probe is also confident (`route.post_probe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from atlas_kernel.models.base import Prompt, Sampling
from atlas_kernel.pipeline.config import PROGRAM_DRAFT
from atlas_kernel.pipeline.extract import completion_stops, extract_code
from atlas_kernel.pipeline.phases.second_opinion import second_opinion
from atlas_kernel.pipeline.phase import BasePhase, candidates_summary
from atlas_kernel.pipeline.phases import route
from atlas_kernel.pipeline.prompts import BegunCode, PromptStyle, begun_code_prompt, code_prompt
from atlas_kernel.pipeline.state import Candidate
from atlas_kernel.problems.types import Problem

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


@dataclass(frozen=True)
class SingleShotRequest:
    """The single-shot prompt and sampling, and how to read code back from the answer."""

    problem: Problem
    prompt: Prompt
    sampling: Sampling
    completion_of: str | None  # raw-completion prompts: the code the answer continues
    begun: BegunCode | None = None  # chat prompts with the answer begun at the code (config.begin_code)

    def code(self, text: str) -> str:
        if self.begun is not None:
            return extract_code(self.problem, self.begun.answer(text))
        return extract_code(self.problem, text, completion_of=self.completion_of)


def single_shot_request(problem: Problem, style: PromptStyle, config: "PipelineConfig") -> SingleShotRequest:
    cp = code_prompt(problem, style)
    stop = completion_stops(problem) if cp.completion_of is not None else ()
    sampling = Sampling(temperature=config.temperature, max_tokens=config.max_tokens, seed=config.seed, logprobs=True,
                        stop=stop, draft=PROGRAM_DRAFT)
    if config.begin_code and cp.style == "chat" and isinstance(cp.prompt, list):
        bc = begun_code_prompt(cp.prompt, problem)
        return SingleShotRequest(problem, bc.prompt, sampling.with_(stop=bc.stop), None, bc)
    return SingleShotRequest(problem, cp.prompt, sampling, cp.completion_of)


class Probe(BasePhase):
    name = "probe"

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        if ctx.state.answer_only:
            yield from self._answer(ctx)
            return
        req = single_shot_request(ctx.problem, ctx.style, ctx.config)
        c = ctx.generate("probe", "single-shot answer", req.prompt, req.sampling)
        cand = ctx.add_candidate("probe", Candidate(id="probe", code=req.code(c.text), origin="probe",
                                                    completion_tokens=c.completion_tokens, mean_logprob=c.mean_logprob))
        yield from ctx.flush()
        ctx.verify_public([cand])
        yield from ctx.flush()
        if ctx.config.condition == "A" or ctx.state.stopped_early:
            return
        if cand.public_total and cand.public_passed == cand.public_total and ctx.config.early_stop:
            self._stop_early(ctx, cand)
        yield from ctx.flush()

    @staticmethod
    def _answer(ctx: "RunContext") -> Iterator["Event"]:
        """Not a coding question (the router's call): one generation answers it in prose, and that
        answer (not an extracted program) is the solve's result."""
        cfg = ctx.config
        question = ctx.problem.statement.strip()
        prompt = [{"role": "user", "content": question}] if ctx.style == "chat" else f"Question: {question}\nAnswer:"
        # a raw completion model goes on to invent the next "Question:" after its answer: stop there
        stop = () if ctx.style == "chat" else ("\nQuestion:",)
        c = ctx.generate("probe", "plain answer", prompt,
                         Sampling(temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed, logprobs=True,
                                  stop=stop))
        ctx.add_candidate("probe", Candidate(id="probe", code=c.text.strip(), origin="probe",
                                             completion_tokens=c.completion_tokens, mean_logprob=c.mean_logprob))
        ctx.state.stopped_early = "router: not a coding question, answered in one generation"
        ctx.emit("early_stop", "probe", reason=ctx.state.stopped_early)
        yield from ctx.flush()

    @staticmethod
    def _stop_early(ctx: "RunContext", cand: Candidate) -> None:
        state = ctx.state
        stop, why = second_opinion(ctx, cand)
        if ctx.config.router:
            path, reason = route.post_probe(cand.public_passed, cand.public_total, stop, why)
            state.route.update({"path": path, "reason": reason})
            ctx.emit("route", "probe", **state.route)
            if path == "fast":
                state.stopped_early = reason
        elif stop:
            state.stopped_early = f"probe passed all {cand.public_total} public examples; {why}"
        if state.stopped_early:
            ctx.emit("early_stop", "probe", reason=state.stopped_early)

    def summary(self, ctx: "RunContext") -> str:
        return candidates_summary(ctx)


PHASE = Probe()
