"""The router: fast path (one generation) or the full pipeline, from signals the solver may see.

Before the probe: is this a coding question at all (no examples, no starter code, no words of
programs)? If not, one generation answers it. The statement's length and stated constraints
pick the reasoning tier. After the probe: a probe that passes every public example, and a
second program that passes them too and agrees with it on mutated inputs, end the solve (fast
path); otherwise the full pipeline runs. The decision and the signals behind it go into the trace.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from atlas_kernel.pipeline.phase import BasePhase
from atlas_kernel.problems.types import Problem

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event

_CODE_WORDS = re.compile(r"\b(function|program|input|output|print|return|array|list|string|integer|def|class|"
                         r"implement|write|code|stdin|stdout)\b", re.IGNORECASE)
_CONSTRAINT = re.compile(r"(10\^\d|10\*\*\d|\d\s*[≤<]=?\s*\w|constraints?)", re.IGNORECASE)


def pre_signals(problem: Problem) -> dict[str, Any]:
    text = problem.statement
    return {
        "statement_chars": len(text),
        "public_examples": len(problem.public_tests),
        "has_starter": bool(problem.starter_code.strip()),
        "code_words": len(_CODE_WORDS.findall(text)),
        "has_constraints": bool(_CONSTRAINT.search(text)),
    }


def is_coding(signals: dict[str, Any]) -> bool:
    return bool(signals["public_examples"] or signals["has_starter"] or signals["code_words"] >= 2)


def choose_tier(signals: dict[str, Any]) -> str:
    if signals["statement_chars"] < 500 and not signals["has_constraints"]:
        return "light"
    if signals["statement_chars"] < 1500:
        return "standard"
    return "hard"


def post_probe(probe_public_passed: int, probe_public_total: int, confirmed: bool, why: str) -> tuple[str, str]:
    """('fast' | 'full', reason) once the probe has been checked and, when it passed, a second
    opinion asked (`second_opinion.py`: the measurement behind the rule is there)."""
    if probe_public_total == 0:
        return "full", "no public examples to check the probe against"
    if probe_public_passed < probe_public_total:
        return "full", f"probe passed {probe_public_passed}/{probe_public_total} public examples"
    if not confirmed:
        return "full", f"probe passed all {probe_public_total} public examples but {why}"
    return "fast", f"probe passed all {probe_public_total} public examples; {why}"


class Route(BasePhase):
    """Before the probe: the path (one generation or the full pipeline) and the reasoning tier."""

    name = "route"

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.router

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        sig = pre_signals(ctx.problem)
        coding = is_coding(sig)
        tier = choose_tier(sig)
        ctx.state.tier = tier
        ctx.state.route = {"path": "full" if coding else "fast", "reason": "coding problem" if coding else "not a coding question",
                           "tier": tier, "signals": sig}
        ctx.emit("route", "route", **ctx.state.route)
        ctx.state.answer_only = not coding  # the probe answers it in one generation, then the solve ends
        yield from ctx.flush()


PHASE = Route()
