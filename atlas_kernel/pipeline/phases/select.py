"""Select: rank the candidates with the configured selector (`selectors.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from atlas_kernel.pipeline.phase import BasePhase
from atlas_kernel.pipeline.selectors import select

if TYPE_CHECKING:
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


class Select(BasePhase):
    name = "select"

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        ranking, reason = select(ctx.state, ctx.config.selector)
        ctx.state.ranking, ctx.state.selection_reason = ranking, reason
        # a copy: S* later reorders the state's ranking in place, and the event records this moment
        ctx.emit("selection", "select", ranking=list(ranking), chosen=ranking[0] if ranking else None, reason=reason,
                 selector=ctx.config.selector)
        yield from ctx.flush()

    def summary(self, ctx: "RunContext") -> str:
        return f"(top: {ctx.state.ranking[0]})" if ctx.state.ranking else ""


PHASE = Select()
