"""Final: the chosen candidate. Re-ranks when candidates arrived after selection (repair), keeping
an S* decision unless the newcomers beat its winner on public examples and self-tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from atlas_kernel.pipeline.phase import BasePhase
from atlas_kernel.pipeline.selectors import select
from atlas_kernel.pipeline.state import Candidate, SolveState

if TYPE_CHECKING:
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


def _key(state: SolveState, c: Candidate) -> tuple[int, int]:
    return (c.public_passed, state.self_passed(c))


class Final(BasePhase):
    name = "final"

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        state = ctx.state
        if state.stopped_early and state.candidates and not state.ranking:
            state.ranking = [state.candidates[0].id]
            state.selection_reason = state.stopped_early
        elif not state.ranking or any(c.id not in state.ranking for c in state.candidates):
            top = state.ranking[0] if state.ranking else None
            ranking, reason = select(state, ctx.config.selector)
            if top and top in ranking and _key(state, state.candidate(top)) >= _key(state, state.candidate(ranking[0])):
                ranking.remove(top)
                ranking.insert(0, top)
            state.ranking, state.selection_reason = ranking, reason
        chosen = state.candidate(state.ranking[0]) if state.ranking else None
        state.chosen = chosen.id if chosen else None
        state.solved_by = chosen.origin if chosen else None
        ctx.trace.candidates = [c.to_dict() for c in state.candidates]
        ctx.trace.self_tests = [t.__dict__.copy() for t in state.self_tests]
        ctx.emit("final", "final", candidate=state.chosen, code=chosen.code if chosen else "",
                 public_passed=chosen.public_passed if chosen else 0, public_total=chosen.public_total if chosen else 0,
                 reason=state.selection_reason or (state.stopped_early or ""))
        yield from ctx.flush()


PHASE = Final()
