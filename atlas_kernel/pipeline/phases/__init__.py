"""The phases, one module each, in the order a solve runs them. A phase whose switch is off (see
`Phase.enabled`) is skipped; which switches each condition turns on is `conditions.py`.

  route -> probe -> plansearch -> divsampling -> verify -> self_tests -> lens -> select -> sstar
  -> repair -> final

Helpers that belong to one phase sit beside it: `budget_forcing` (DivSampling's reasoning
budgets), `self_test_mutations` (self-test inputs from the public ones).
"""

from __future__ import annotations

from atlas_kernel.pipeline.phase import Phase
from atlas_kernel.pipeline.phases import (divsampling, final, lens, plansearch, probe, repair, route, select, self_tests,
                                          sstar, verify)

PHASES: tuple[Phase, ...] = (route.PHASE, probe.PHASE, plansearch.PHASE, divsampling.PHASE, verify.PHASE,
                             self_tests.PHASE, lens.PHASE, select.PHASE, sstar.PHASE, repair.PHASE, final.PHASE)
PHASE_NAMES: tuple[str, ...] = tuple(p.name for p in PHASES)
BY_NAME: dict[str, Phase] = {p.name: p for p in PHASES}
