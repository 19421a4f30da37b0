"""PlanSearch: observations (constraint sets) that point to different algorithm families, one plan
per observation (prose, no code), then an implementation of each plan.

A model this small often repeats one idea or writes code where a plan was asked for; so the
observations it gives are de-duplicated and topped up from a fixed list of algorithm families
(chosen deterministically from the seed), and code in a plan is cut off before implementing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator

from atlas_kernel.models.base import Message, Sampling
from atlas_kernel.pipeline.config import PROGRAM_DRAFT
from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.pipeline.phase import BasePhase, candidates_summary
from atlas_kernel.pipeline.prompts import begun_code_prompt, chat_code_prompt, task_text
from atlas_kernel.pipeline.state import Candidate

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event

FAMILIES = (
    "a direct loop over the input that builds the answer step by step",
    "sorting the data first and then scanning it once",
    "a dictionary or counter that records what has been seen",
    "a mathematical formula or property instead of brute force",
    "checking every possibility (brute force) because the input is small",
    "splitting the problem into a small helper function and a main function",
    "two pointers or a sliding window",
    "recursion or dynamic programming over smaller cases",
)


def _lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if len(line) >= 12 and not line.startswith(("```", "def ", "import ", "return ")):
            out.append(line.rstrip("."))
    return out


def observations(ctx: "RunContext", n: int) -> tuple[list[str], str]:
    """n distinct observations; the raw model text is returned for the trace."""
    prompt = [{"role": "user", "content": (
        f"{task_text(ctx.problem, with_examples=False)}\n\nDo not write code. List {n + 1} different observations "
        "about this problem, each suggesting a different way to solve it (for example a loop, sorting, a "
        "dictionary, a formula). One short sentence per line.")}]
    c = ctx.generate("plansearch", "observations", prompt, Sampling(temperature=0.0, max_tokens=ctx.config.plan_tokens))
    seen: set[str] = set()
    obs: list[str] = []
    for line in _lines(c.text):
        key = re.sub(r"\W+", " ", line.lower()).strip()
        if key not in seen:
            seen.add(key)
            obs.append(line)
    start = ctx.config.seed % len(FAMILIES)
    i = 0
    while len(obs) < n:
        obs.append(f"It can be solved with {FAMILIES[(start + i) % len(FAMILIES)]}")
        i += 1
    return obs[:n], c.text


def plan_prompt(ctx: "RunContext", observation: str) -> list[Message]:
    return [{"role": "user", "content": (
        f"{task_text(ctx.problem, with_examples=False)}\n\nIdea: {observation}.\n\nUsing this idea, write a plan "
        "of 3 to 6 short numbered steps that solves the problem. Do not write code.")}]


def plans_for(ctx: "RunContext", observations: list[str]) -> list[str]:
    """One plan per observation, the prompts decoded together."""
    outs = ctx.generate_batch("plansearch", ["plan"] * len(observations), [plan_prompt(ctx, o) for o in observations],
                              [Sampling(temperature=0.0, max_tokens=ctx.config.plan_tokens)] * len(observations))
    # a plan with code in it: keep the prose only
    return [c.text.split("```", 1)[0].strip() or o for o, c in zip(observations, outs)]


def implement_prompt(ctx: "RunContext", plan: str) -> list[Message]:
    return chat_code_prompt(ctx.problem, instruction=(
        f"Follow this plan:\n{plan}\n\nReturn the whole solution in one ```python code block."))


def implement_all(ctx: "RunContext", plans: list[str]) -> list[tuple[str, int, float | None]]:
    """(answer text, tokens, mean log-probability) per plan; the text is the whole fenced answer."""
    prompts = [implement_prompt(ctx, p) for p in plans]
    sampling = Sampling(temperature=0.0, max_tokens=ctx.config.max_tokens, logprobs=True, draft=PROGRAM_DRAFT)
    if not ctx.config.begin_code:
        outs = ctx.generate_batch("plansearch", ["implement plan"] * len(plans), prompts, [sampling] * len(plans))
        return [(c.text, c.completion_tokens, c.mean_logprob) for c in outs]
    begun = [begun_code_prompt(m, ctx.problem) for m in prompts]
    outs = ctx.generate_batch("plansearch", ["implement plan"] * len(plans), [b.prompt for b in begun],
                              [sampling.with_(stop=b.stop) for b in begun])
    return [(b.answer(c.text), c.completion_tokens, c.mean_logprob) for b, c in zip(begun, outs)]


class PlanSearch(BasePhase):
    name = "plansearch"
    generative = True

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.plansearch and config.n_plans > 0

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        n = ctx.config.n_plans
        if n <= 0:
            return
        obs, _raw = observations(ctx, n)
        yield from ctx.flush()
        if not obs or ctx.out_of_budget():
            return
        plans = plans_for(ctx, obs)
        yield from ctx.flush()
        if ctx.out_of_budget():
            return
        for o, plan, (text, tokens, lp) in zip(obs, plans, implement_all(ctx, plans)):
            ctx.add_candidate("plansearch", Candidate(id=ctx.state.new_id("plan"), code=extract_code(ctx.problem, text),
                                                      origin="plan", plan=f"{o}\n{plan}", completion_tokens=tokens,
                                                      mean_logprob=lp))
            yield from ctx.flush()

    def summary(self, ctx: "RunContext") -> str:
        return candidates_summary(ctx)


PHASE = PlanSearch()
