"""Lens: the energy of each candidate's self-embedding under a trained lens for the model (lower
= more likely correct). Without a lens for the model, log-probability breaks ties in selection,
and the trace says so. The scorer is the pipeline's `energy_scorer`, else the model's default
lens (`atlas_kernel.lens.scoring.default_scorer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from atlas_kernel.pipeline.phase import BasePhase

if TYPE_CHECKING:
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.context import RunContext
    from atlas_kernel.pipeline.events import Event


def score_candidates(ctx: "RunContext") -> Iterator["Event"]:
    """Energies for every candidate that has none yet (also after repair added candidates)."""
    scorer = ctx.lens_scorer()
    cands = [c for c in ctx.state.candidates if c.energy is None]
    if scorer is None or not cands:
        ctx.emit("energy", "lens", energies={}, source="none: no trained lens for this model (log-probability breaks ties)")
        yield from ctx.flush()
        return
    emb = ctx.model.embed([c.code for c in cands])
    energies = scorer(ctx.problem, cands, emb)
    for c, e in zip(cands, energies):
        c.energy = float(e)
    ctx.emit("energy", "lens", energies={c.id: c.energy for c in cands}, source=getattr(scorer, "name", "lens"))
    yield from ctx.flush()


class Lens(BasePhase):
    name = "lens"

    def enabled(self, config: "PipelineConfig") -> bool:
        return config.lens

    def run(self, ctx: "RunContext") -> Iterator["Event"]:
        yield from score_candidates(ctx)


PHASE = Lens()
