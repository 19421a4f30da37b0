"""Repair by multi-perspective chain of thought (PR-CoT), when no candidate passes its own checks.

Each round takes the best program not repaired yet, shows the model what it gets wrong on the
PUBLIC examples (up to three failures and how many it passes; without public examples, its
disagreements with kept self-tests) and asks, once per perspective, for a short analysis and a
corrected program. A round's perspectives decode as one batch: their prompts differ only in the
last paragraph, so the shared part is evaluated once. Answers that hold no program, and programs
already in the pool (a repair that re-emits its parent), are recorded and dropped: they would
only add a vote to the self-tests. New programs are verified like any candidate; the loop stops
when the best one passes its checks, or when rounds, tokens or time run out.

Measured on campaign arm D (Qwen2.5-Coder-0.5B, 106 repair answers on 14 HumanEval tasks,
benchmark/bench_repair.py): 42 re-emitted their parent, 3 another candidate and 22 held no
program, mostly prose from the "assumptions" perspective; a second round had repaired the same
program again, under another id, on 5 of 12 tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from atlas_kernel.models.base import Sampling
from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.pipeline.phase import BasePhase, candidates_summary
from atlas_kernel.pipeline.phases import lens, self_tests
from atlas_kernel.pipeline.programs import holds_no_program, program_key, without_docstring
from atlas_kernel.pipeline.prompts import task_text
from atlas_kernel.pipeline.selectors import select
from atlas_kernel.pipeline.state import Candidate
from atlas_kernel.problems.types import Problem

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event

PERSPECTIVES = {
    "logic": "Check the logic line by line: which step computes the wrong value for the failing input?",
    "edge_cases": "Think about edge cases and completeness: empty input, one element, equal values, negative numbers.",
    "assumptions": "Re-read the task and its examples: did the program misread what to compute, the input format or the output format?",
    "alternative": "Consider a different, simpler algorithm that is clearly correct, and use it instead.",
}


MAX_FAILURES_SHOWN = 3  # failing examples per prompt: enough to see the pattern, short enough to stay cheap


def failure_feedback(ctx: "RunContext", cand: Candidate) -> str | None:
    """What the candidate gets wrong: its failing public examples (up to three, with how many it
    passes, which a fix must keep passing), else its disagreements with kept self-tests."""
    failing = [v for v in cand.public if not v.passed]
    if failing:
        shown = [_describe(v.verdict, v.input, v.expected, v.actual, v.message) for v in failing[:MAX_FAILURES_SHOWN]]
        head = (f"It passes {cand.public_passed} of {cand.public_total} examples; a fix must keep those passing. "
                if cand.public_passed else "")
        return head + f"It fails {'this test' if len(failing) == 1 else f'{len(failing)} tests'}:\n" + "\n\n".join(shown)
    wrong = []
    for i, t in enumerate(ctx.state.self_tests):
        if t.kept and cand.self_outputs.get(i) != t.expected:
            got = cand.self_outputs.get(i)
            wrong.append(_describe("wrong_answer" if got is not None else "runtime_error", t.input, t.expected or "", got or "", ""))
    if not wrong:
        return None
    return (f"It disagrees with {'this test' if len(wrong) == 1 else f'{len(wrong)} tests'} "
            "(expected outputs agreed by other programs):\n" + "\n\n".join(wrong[:MAX_FAILURES_SHOWN]))


def _describe(verdict: str, inp: Any, expected: Any, actual: Any, message: str) -> str:
    parts = [f"Input:\n{str(inp).strip()[:400]}", f"Expected:\n{str(expected).strip()[:300]}"]
    if actual:
        parts.append(f"Got:\n{str(actual).strip()[:300]}")
    if message and verdict != "wrong_answer":  # a wrong answer's message only says so
        parts.append(f"Error ({verdict}):\n{message.strip()[:300]}")
    elif not actual:
        parts.append(f"Result: {verdict}")
    return "\n".join(parts)


def repair_prompt(problem: Problem, code: str, feedback: str, hint: str) -> list[dict[str, str]]:
    """One perspective's request. Everything but the hint is shared by a round's prompts and comes
    first, so one batch evaluates it once; the program is shown without the docstring the task
    text already holds."""
    shown = without_docstring(code.strip(), problem.entry_point)
    return [{"role": "user", "content": (
        f"{task_text(problem, with_examples=False)}\n\nThis program for it is wrong:\n```python\n{shown}\n```\n"
        f"{feedback}\n\n{hint}\nExplain the bug in one or two sentences, then write the complete corrected "
        "program in one ```python block.")}]


def _needs_repair(ctx: "RunContext", cand: Candidate) -> bool:
    if cand.public_total:
        return cand.public_passed < cand.public_total
    kept = ctx.state.kept_self_tests
    return bool(kept) and ctx.state.self_passed(cand) < len(kept)


def _repair_rounds(ctx: "RunContext") -> Iterator["Event"]:
    state = ctx.state
    cfg = ctx.config
    entry = ctx.problem.entry_point if ctx.problem.kind == "functional" else None
    repaired: set[str] = set()  # program keys of the parents repaired so far
    for rnd in range(1, cfg.repair_rounds + 1):
        top = state.candidate(state.ranking[0]) if state.ranking else state.best_public()
        if top is None or not _needs_repair(ctx, top):
            ctx.emit("early_stop", "repair", reason="a candidate passes its checks: nothing to repair")
            yield from ctx.flush()
            return
        # later rounds repair the best program not repaired yet, compared by what the code says:
        # a repair that re-emitted its parent is the same program, and repairing it again repeats itself
        keys = {c.id: program_key(c.code) for c in state.candidates}  # once per round: every use below reads them
        order = state.ranking or [c.id for c in state.candidates]
        best = next((state.candidate(cid) for cid in order if keys[cid] not in repaired
                     and _needs_repair(ctx, state.candidate(cid))), None)
        if best is None:
            ctx.emit("early_stop", "repair", reason="every failing program was repaired already")
            yield from ctx.flush()
            return
        parent_key = keys[best.id]
        repaired.add(parent_key)
        feedback = failure_feedback(ctx, best)
        if feedback is None or ctx.out_of_budget():
            return
        temperature = 0.0 if rnd == 1 else 0.4
        # as many perspectives as the token budget gives a whole answer (a batch splits what is left evenly)
        names = list(cfg.repair_perspectives)[:max(1, ctx.tokens_left() // cfg.max_tokens)]
        # one batch per round: the perspectives share their prompt up to the hint
        outs = ctx.generate_batch(
            "repair", [f"repair round {rnd} ({n})" for n in names],
            [repair_prompt(ctx.problem, best.code, feedback, PERSPECTIVES.get(n, n)) for n in names],
            [Sampling(temperature=temperature, max_tokens=cfg.max_tokens, logprobs=True,
                      seed=cfg.seed * 7919 + rnd * 31 + i) for i in range(len(names))])
        known: dict[str, str] = {}  # program key -> the first candidate with it
        for cid, k in keys.items():
            known.setdefault(k, cid)
        new: list[Candidate] = []
        for name, c in zip(names, outs):
            code = extract_code(ctx.problem, c.text)
            key = program_key(code)
            explanation = c.text.split("```", 1)[0].strip()[:300]
            if holds_no_program(code, entry):
                # prose without a program: nothing to verify, and a stub must not vote on self-tests
                ctx.emit("repair", "repair", round=rnd, perspective=name, parent=best.id, candidate=None,
                         dropped="no program in the answer", explanation=explanation)
                continue
            if key in known:
                same = "its parent" if key == parent_key else known[key]
                ctx.emit("repair", "repair", round=rnd, perspective=name, parent=best.id, candidate=None,
                         dropped=f"same program as {same}", same_as=best.id if key == parent_key else known[key],
                         explanation=explanation)
                continue
            cand = Candidate(id=state.new_id("repair"), code=code, origin="repair",
                             plan=f"{name}: {explanation}", parent=best.id,
                             completion_tokens=c.completion_tokens, mean_logprob=c.mean_logprob,
                             meta={"round": rnd, "perspective": name})
            known[key] = cand.id
            ctx.add_candidate("repair", cand)
            new.append(cand)
            ctx.emit("repair", "repair", round=rnd, perspective=name, parent=best.id, candidate=cand.id)
        yield from ctx.flush()
        if not new:
            continue
        ctx.verify_public(new, phase="repair")
        yield from ctx.flush()
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
