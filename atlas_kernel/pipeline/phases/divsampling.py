"""DivSampling: vary role, instruction style and temperature across candidates.

The table below is the whole perturbation space. Candidate i of a run takes row
`(seed + i) mod len(TABLE)` (deterministic from the seed), so a rerun with the same seed asks
the same questions. Temperatures stay low: with models of this size, samples above ~0.5 are
mostly broken (measured: pass@1 at T=0.8 was a third of greedy for SmolLM2-135M on HumanEval),
so variety comes from the prompt more than from the sampler.

Every row without a reasoning budget decodes in ONE batch (rows sharing a prompt share its
prefill); with budget forcing on, every third row gets the tier's reasoning budget
(`budget_forcing.py`) and runs on its own. A raw-completion (base) model cannot follow roles or
instructions, so it gets the single-shot prompt with the sampler varied instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from atlas_kernel.models.base import Message, Sampling
from atlas_kernel.pipeline.config import PROGRAM_DRAFT, TIERS
from atlas_kernel.pipeline.extract import completion_stops, extract_code
from atlas_kernel.pipeline.phase import BasePhase, candidates_summary
from atlas_kernel.pipeline.phases import budget_forcing
from atlas_kernel.pipeline.prompts import (FENCE_CLOSE, FENCE_OPEN, SCRIPT_ASK, begun_code_prompt, chat_code_prompt,
                                           code_prompt, script_prompt)
from atlas_kernel.pipeline.state import Candidate

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event
    from atlas_kernel.problems.types import Problem


@dataclass(frozen=True)
class Perturbation:
    name: str
    system: str | None
    instruction: str
    temperature: float
    script: bool = False  # the evalplus-style prompt with the answer begun at the code fence (prompts.script_prompt)
    reasons_first: bool = False  # asks for prose before the code: never begun at the code (config.begin_code)

    def prompt(self, problem: "Problem") -> list[Message]:
        if self.script:
            return script_prompt(problem, system=self.system)
        return chat_code_prompt(problem, system=self.system, instruction=self.instruction)


# The first row is greedy but must not repeat the probe (the same prompt at T=0 gives the same
# program): it asks the way the model's authors evaluate it, which solves other tasks than the probe.
TABLE: tuple[Perturbation, ...] = (
    Perturbation("script", None, SCRIPT_ASK, 0.0, script=True),
    Perturbation("expert", "You are an expert Python programmer who writes correct, simple code.",
                 "Return the whole solution in one ```python code block.", 0.2),
    Perturbation("careful", "You are a careful programmer. You check edge cases such as empty inputs.",
                 "Handle every edge case. Return the whole solution in one ```python code block.", 0.3),
    Perturbation("stepwise", None,
                 "First think about the steps in a short list, then write the whole solution in one ```python code block.", 0.3,
                 reasons_first=True),
    Perturbation("simple", "You write the shortest correct Python code.",
                 "Use a simple loop. Return the whole solution in one ```python code block.", 0.4),
    Perturbation("teacher", "You are a patient teacher of Python.",
                 "Write a clear solution in one ```python code block.", 0.5),
)


def perturbations(n: int, seed: int) -> list[Perturbation]:
    return [TABLE[(seed + i) % len(TABLE)] for i in range(n)]


def _add(ctx: "RunContext", code: str, tokens: int, lp: float | None, plan: str, meta: dict[str, Any] | None = None,
         phase: str = "divsampling") -> Candidate:
    return ctx.add_candidate(phase, Candidate(id=ctx.state.new_id("div"), code=code, origin="div", plan=plan,
                                              completion_tokens=tokens, mean_logprob=lp, meta=meta or {}))


def _sampling(p: Perturbation, i: int, cfg: "PipelineConfig") -> Sampling:
    return Sampling(temperature=p.temperature, top_p=0.95 if p.temperature > 0 else 1.0, max_tokens=cfg.max_tokens,
                    seed=cfg.seed * 1000 + i, logprobs=True, stop=(FENCE_CLOSE,) if p.script else (), draft=PROGRAM_DRAFT)


def _candidate_text(p: Perturbation, text: str) -> str:
    # a backend that did not continue the begun answer (some servers) wrote its own fences
    return FENCE_OPEN + text + FENCE_CLOSE if p.script and "```" not in text else text


def _request(p: Perturbation, i: int, ctx: "RunContext") -> tuple[list[Message], Sampling, Callable[[str], str]]:
    """Row i's prompt, sampling, and how its answer becomes the text code is extracted from."""
    msgs, sampling = p.prompt(ctx.problem), _sampling(p, i, ctx.config)
    if ctx.config.begin_code and not p.reasons_first:
        b = begun_code_prompt(msgs, ctx.problem)
        return b.prompt, sampling.with_(stop=b.stop), b.answer
    return msgs, sampling, lambda text: _candidate_text(p, text)


GREEDY_ROW = TABLE[0]


def generate_greedy_row(ctx: "RunContext", phase: str) -> Candidate:
    """The greedy row's candidate, made early (the probe's second opinion); DivSampling then
    skips that row."""
    p = GREEDY_ROW
    prompt, sampling, answer = _request(p, 0, ctx)
    c = ctx.generate(phase, f"second opinion: {p.name}", prompt, sampling)
    return _add(ctx, extract_code(ctx.problem, answer(c.text)), c.completion_tokens, c.mean_logprob,
                f"{p.name}, T={p.temperature}", meta={"row": p.name}, phase=phase)


class DivSampling(BasePhase):
    name = "divsampling"
    generative = True

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.divsampling and config.k - config.n_plans > 0

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        cfg = ctx.config
        n = cfg.k - (cfg.n_plans if cfg.plansearch else 0)
        if n <= 0:
            return
        # rows made earlier (the probe's second opinion) count toward k and are not asked again; the
        # others keep their table positions, so which row gets a reasoning budget does not depend on it
        made = {c.meta.get("row") for c in ctx.state.candidates if c.origin == "div"} - {None}
        todo = [(i, p) for i, p in enumerate(perturbations(n + len(made), cfg.seed)) if p.name not in made]
        todo = todo[:max(0, n - len(made))]
        if not todo:
            return
        if ctx.style == "completion":
            yield from self._vary_sampler(ctx, [p for _, p in todo])
            return
        tier = TIERS[ctx.state.tier]
        plain = [(i, p) for i, p in todo if not (cfg.budget_forcing and i % 3 == 2 and tier.think_tokens > 0)]
        forced = [(i, p) for i, p in todo if (i, p) not in plain]
        if plain and not ctx.out_of_budget():
            requests = [_request(p, i, ctx) for i, p in plain]
            outs = ctx.generate_batch("divsampling", [p.name for _, p in plain], [r[0] for r in requests],
                                      [r[1] for r in requests])
            for (i, p), (_, _, answer), c in zip(plain, requests, outs):
                _add(ctx, extract_code(ctx.problem, answer(c.text)), c.completion_tokens, c.mean_logprob,
                     f"{p.name}, T={p.temperature}", meta={"row": p.name})
            yield from ctx.flush()
        for i, p in forced:
            if ctx.out_of_budget():
                break
            msgs = chat_code_prompt(ctx.problem, system=p.system, instruction=p.instruction)  # reasoning first: no begun fence
            fa = budget_forcing.forced_generate(ctx, "divsampling", f"{p.name} (budget {tier.name})", msgs, tier,
                                                Sampling(temperature=p.temperature, max_tokens=cfg.max_tokens,
                                                         seed=cfg.seed * 1000 + i))
            _add(ctx, extract_code(ctx.problem, fa.text), fa.think_tokens + fa.code_tokens, fa.mean_logprob,
                 f"{p.name}, reasoning {fa.think_tokens} tokens ({fa.mode}, {fa.extensions} extensions, "
                 f"{'capped' if fa.capped else 'uncapped'})",
                 meta={"row": p.name, "budget": {"tier": tier.name, "think_tokens": fa.think_tokens, "extensions": fa.extensions,
                                  "capped": fa.capped, "mode": fa.mode}})
            yield from ctx.flush()

    @staticmethod
    def _vary_sampler(ctx: "RunContext", rows: list[Perturbation]) -> Iterator["Event"]:
        cp = code_prompt(ctx.problem, "completion")
        samplings = [Sampling(temperature=max(0.2, p.temperature), top_p=0.95, max_tokens=ctx.config.max_tokens,
                              seed=ctx.config.seed * 1000 + i, logprobs=True, stop=completion_stops(ctx.problem))
                     for i, p in enumerate(rows)]
        outs = ctx.generate_many("divsampling", "diverse samples", cp.prompt, samplings)
        for p, c in zip(rows, outs):
            _add(ctx, extract_code(ctx.problem, c.text, completion_of=cp.completion_of), c.completion_tokens,
                 c.mean_logprob, f"temperature {p.temperature}")
        yield from ctx.flush()

    def summary(self, ctx: "RunContext") -> str:
        return candidates_summary(ctx)


PHASE = DivSampling()
