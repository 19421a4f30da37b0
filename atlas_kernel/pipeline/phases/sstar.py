"""S*-style tie-breaking: when the two best candidates are tied on everything the solver can check
but are different programs, find inputs on which they differ and decide on those.

1. inputs: the model proposes new inputs meant to tell the two apart (same formats as self-tests);
   the self-test inputs on which the two already differ are used too;
2. both run on them (stdio and functional alike, through the same output collector);
3. on the first input where their outputs differ: a kept self-test on that input decides (its
   majority output is the oracle); otherwise the model judges which output is right for the input
   (a two-choice question, answered greedily), and the judgement is recorded in the trace.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator

from atlas_kernel.models.base import Sampling
from atlas_kernel.pipeline.phase import BasePhase
from atlas_kernel.pipeline.phases.self_tests import parse_inputs
from atlas_kernel.pipeline.prompts import task_text
from atlas_kernel.pipeline.state import Candidate, SolveState

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


def _tied(state: SolveState, a: Candidate, b: Candidate) -> bool:
    return (a.public_passed, state.self_passed(a)) == (b.public_passed, state.self_passed(b))


def _judge(ctx: "RunContext", inp: str, out_a: str | None, out_b: str | None) -> str | None:
    problem = ctx.problem
    show = (lambda s: "(error)" if s is None else s[:300])
    q = (f"{task_text(problem, with_examples=True)}\n\nFor this input:\n```\n{inp.strip()[:500]}\n```\n"
         f"Which output is correct?\nA) {show(out_a)}\nB) {show(out_b)}\nAnswer with the single letter A or B.")
    c = ctx.generate("sstar", "judge outputs", [{"role": "user", "content": q}], Sampling(temperature=0.0, max_tokens=8))
    return parse_choice(c.text)


# An explicit "answer: B" first; then a capital A or B standing alone (the usual short reply); a
# lower-case letter only where it is marked as an option ("(b)", "b)" at a line start). Case
# matters otherwise: the article in "a better output is B" is not option A, nor the capital one
# that opens "A better output is B" (an "A" before a lower-case word other than a verb an option
# takes, as in "A is correct").
_ANSWER = re.compile(r"answer\s*(?:is)?\s*:?\s*\(?\s*([AB])\b", re.IGNORECASE)
_OPTION_VERBS = "is|was|seems|looks|appears|gives|returns|prints|produces|outputs|matches|because|since"
_CAPITAL = re.compile(r"\b(B|A(?!\s+(?!(?:" + _OPTION_VERBS + r")\b)[a-z]))\b")
_MARKED = re.compile(r"(?:^|\()\s*([ab])\s*\)", re.MULTILINE)


def parse_choice(text: str) -> str | None:
    """The option a two-choice reply picks, or None when it names none."""
    for pattern in (_ANSWER, _CAPITAL, _MARKED):
        m = pattern.search(text)
        if m:
            return m.group(1).upper()
    return None


def _separate_top_two(ctx: "RunContext") -> Iterator["Event"]:
    state = ctx.state
    if len(state.ranking) < 2:
        return
    a, b = state.candidate(state.ranking[0]), state.candidate(state.ranking[1])
    if " ".join(a.code.split()) == " ".join(b.code.split()) or not _tied(state, a, b):
        ctx.emit("sstar", "sstar", a=a.id, b=b.id, inputs=[], outputs=[], winner=None,
                 reason="top two are not tied" if not _tied(state, a, b) else "top two are the same program")
        yield from ctx.flush()
        return
    problem = ctx.problem
    n = ctx.config.sstar_inputs
    # 96 tokens per input: at 48 (176 for 3 inputs) 3 of 4 answers of Qwen2.5-Coder-0.5B were cut (bench_budgets.py)
    ask = ("Write {n} test inputs on which two different programs for this problem could give different answers. "
           + ("Put each input in its own ``` block." if problem.kind == "stdio" else
              f"Write them as lines `assert {problem.entry_point}(...) == ...`.")).format(n=n)
    c = ctx.generate("sstar", "distinguishing inputs", [{"role": "user", "content": f"{task_text(problem, with_examples=True)}\n\n{ask}"}],
                     Sampling(temperature=0.0, max_tokens=96 * n + 32))
    yield from ctx.flush()
    inputs = [i for i, _ in parse_inputs(problem, c.text)][:n]
    # self-test inputs where the two already differ come first: they have an oracle
    differing_self = [i for i, t in enumerate(state.self_tests) if a.self_outputs.get(i) != b.self_outputs.get(i)]
    cases: list[tuple[str, str | None, str | None, int | None]] = [
        (state.self_tests[i].input, a.self_outputs.get(i), b.self_outputs.get(i), i) for i in differing_self]
    if inputs:
        outs = ctx.collect_outputs([a.code, b.code], inputs)
        cases += [(inp, outs[0][j], outs[1][j], None) for j, inp in enumerate(inputs)]
    winner, reason = None, "no input separates them"
    for inp, oa, ob, self_idx in cases:
        if oa == ob:
            continue
        t = state.self_tests[self_idx] if self_idx is not None else None
        if t is not None and t.kept:
            if oa == t.expected:
                winner, reason = a.id, "matches the self-test majority on a distinguishing input"
            elif ob == t.expected:
                winner, reason = b.id, "matches the self-test majority on a distinguishing input"
            if winner:
                break
        if oa is None or ob is None:
            winner = b.id if oa is None else a.id
            reason = "the other one fails on a distinguishing input"
            break
        verdict = _judge(ctx, inp, oa, ob)
        yield from ctx.flush()
        if verdict:
            winner = a.id if verdict == "A" else b.id
            reason = f"model judged output {verdict} correct on a distinguishing input"
            break
    if winner == b.id:
        state.ranking.remove(b.id)
        state.ranking.insert(0, b.id)
    ctx.emit("sstar", "sstar", a=a.id, b=b.id, inputs=[x[0] for x in cases][:8],
             outputs=[[x[1], x[2]] for x in cases][:8], winner=winner, reason=reason)
    yield from ctx.flush()


class SStar(BasePhase):
    name = "sstar"
    generative = True

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.sstar

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        yield from _separate_top_two(ctx)


PHASE = SStar()
