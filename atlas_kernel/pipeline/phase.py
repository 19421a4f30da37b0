"""What a phase is: a name, whether a config turns it on, whether it calls the model, how it runs
over the shared `RunContext` (yielding events as they happen), and a one-line summary when done.

Each phase lives in its own module under `phases/`; `phases.PHASES` is their order. A condition
(conditions.py) only says which switches are on; a phase reads its own switch in `enabled`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


@runtime_checkable
class Phase(Protocol):
    name: str
    generative: bool  # calls the model: skipped once the token or time budget is spent

    def enabled(self, config: "PipelineConfig") -> bool: ...

    def run(self, ctx: "RunContext") -> Iterator["Event"]: ...

    def summary(self, ctx: "RunContext") -> str: ...


class BasePhase:
    """Defaults for a phase that always runs, never calls the model and has no summary."""

    name = ""
    generative = False

    def enabled(self, config: "PipelineConfig") -> bool:
        return True

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        raise NotImplementedError

    def summary(self, ctx: "RunContext") -> str:
        return ""

    def __repr__(self) -> str:
        return f"<phase {self.name}>"


def candidates_summary(ctx: "RunContext") -> str:
    """The summary of phases that add candidates."""
    return f"({len(ctx.state.candidates)} candidates, {ctx.state.tokens_used} tokens)"
