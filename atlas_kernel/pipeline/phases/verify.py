"""Verify: every candidate not checked yet runs on the public examples in the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from atlas_kernel.pipeline.phase import BasePhase

if TYPE_CHECKING:
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


class Verify(BasePhase):
    name = "verify"

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        ctx.verify_public(ctx.state.candidates)
        yield from ctx.flush()


PHASE = Verify()
