"""Selection among candidates, by execution on what the solver may see.

Every selector first ranks by public examples passed (a candidate that fails a given example is
dominated). Then:
  lexicographic  self-tests passed, then Lens energy (lower first) when scored, else the mean
                 token log-probability of the candidate's generation (higher first).
  codet          CodeT dual agreement: the tests are the public examples and the self-tests the
                 model wrote with a claimed output; candidates passing exactly the same tests form
                 a consensus set scored (candidates) x (tests passed); within the best set,
                 energy or log-probability breaks ties.
  mbr_exec       MBR-exec: the candidate whose outputs on the self-test inputs agree with the most
                 other candidates (summed over inputs) wins; needs no expected outputs at all.
Ties after all of that keep generation order (the probe first), so results are deterministic.
"""

from __future__ import annotations

import math
from collections import defaultdict

from atlas_kernel.pipeline.conditions import DEFAULT_SELECTOR
from atlas_kernel.pipeline.outputs import claimed_output
from atlas_kernel.pipeline.state import Candidate, SolveState


def _tiebreaker(state: SolveState):
    """Higher is better. Lens energy only when every candidate has one: an energy and a
    log-probability are on different scales and must never be compared with each other."""
    if state.candidates and all(c.energy is not None for c in state.candidates):
        return lambda c: -c.energy
    return lambda c: c.mean_logprob if c.mean_logprob is not None else -1e9


def _uses_energy(state: SolveState) -> bool:
    return bool(state.candidates) and all(c.energy is not None for c in state.candidates)


def _order(state: SolveState) -> dict[str, int]:
    return {c.id: i for i, c in enumerate(state.candidates)}


def lexicographic(state: SolveState) -> tuple[list[str], str]:
    order = _order(state)
    tiebreak = _tiebreaker(state)
    ranked = sorted(state.candidates, key=lambda c: (-c.public_passed, -state.self_passed(c), -tiebreak(c), order[c.id]))
    if not ranked:
        return [], "no candidates"
    top = ranked[0]
    tb = "energy" if _uses_energy(state) else "log-probability"
    return [c.id for c in ranked], (f"{top.public_passed}/{top.public_total} public, {state.self_passed(top)}/"
                                     f"{len(state.kept_self_tests)} self-tests, then {tb}")


def codet(state: SolveState) -> tuple[list[str], str]:
    """CodeT's dual agreement (Chen et al. 2022) over the model-written self-tests with the output
    the model claimed for them: candidates passing exactly the same of those tests form a consensus
    set scored (candidates in it) x (tests it passes). The public examples are not generated tests:
    they rank first on their own and split the sets (a set is formed within the same public results),
    and they add nothing to the score, which would otherwise grow with a set's size alone."""
    order = _order(state)
    claimed = {i: out for i, t in enumerate(state.self_tests)
               if (out := claimed_output(state.problem, t.model_expected)) is not None}
    groups: dict[tuple[frozenset, frozenset], list[Candidate]] = defaultdict(list)
    for c in state.candidates:
        public = frozenset(i for i, v in enumerate(c.public) if v.passed)
        generated = frozenset(i for i, out in claimed.items() if c.self_outputs.get(i) == out)
        groups[(public, generated)].append(c)
    scored = []
    for (_, generated), members in groups.items():
        scored += [(m, len(members) * len(generated)) for m in members]
    tiebreak = _tiebreaker(state)
    ranked = sorted(scored, key=lambda x: (-x[0].public_passed, -x[1], -tiebreak(x[0]), order[x[0].id]))
    if not ranked:
        return [], "no candidates"
    top, score = ranked[0]
    size = next(len(ms) for ms in groups.values() if top in ms)
    return [m.id for m, _ in ranked], (f"CodeT dual agreement {score} ({size} candidates x {score // max(size, 1)} "
                                       f"generated tests, {len(claimed)} with a claimed output)")


def mbr_exec(state: SolveState) -> tuple[list[str], str]:
    order = _order(state)
    inputs = sorted({i for c in state.candidates for i in c.self_outputs})
    agree: dict[str, int] = {}
    for c in state.candidates:
        total = 0
        for i in inputs:
            out = c.self_outputs.get(i)
            if out is None:
                continue
            total += sum(1 for o in state.candidates if o is not c and o.self_outputs.get(i) == out)
        agree[c.id] = total
    tiebreak = _tiebreaker(state)
    ranked = sorted(state.candidates, key=lambda c: (-c.public_passed, -agree[c.id], -tiebreak(c), order[c.id]))
    if not ranked:
        return [], "no candidates"
    return [c.id for c in ranked], f"MBR-exec agreement {agree[ranked[0].id]} over {len(inputs)} inputs"


SELECTORS = {"lexicographic": lexicographic, "codet": codet, "mbr_exec": mbr_exec}


def select(state: SolveState, selector: str = DEFAULT_SELECTOR) -> tuple[list[str], str]:
    try:
        fn = SELECTORS[selector]
    except KeyError:
        raise ValueError(f"unknown selector {selector!r}: use one of {', '.join(SELECTORS)}") from None
    return fn(state)
