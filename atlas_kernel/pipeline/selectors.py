"""Selection among candidates, by execution on what the solver may see.

Every selector first ranks by public examples passed (a candidate that fails a given example is
dominated). Then:
  lexicographic  self-tests passed, then Lens energy (lower first) when scored, else the mean
                 token log-probability of the candidate's generation (higher first).
  codet          CodeT dual agreement: candidates that pass exactly the same set of (public +
                 kept self-) tests form a group; a group scores (tests passed) x sqrt(group size);
                 within the best group, energy or log-probability breaks ties.
  mbr_exec       MBR-exec: the candidate whose outputs on the self-test inputs agree with the most
                 other candidates (summed over inputs) wins; needs no expected outputs at all.
Ties after all of that keep generation order (the probe first), so results are deterministic.
"""

from __future__ import annotations

import math
from collections import defaultdict

from atlas_kernel.pipeline.conditions import DEFAULT_SELECTOR
from atlas_kernel.pipeline.state import Candidate, SolveState


def _tiebreak(c: Candidate) -> float:
    if c.energy is not None:
        return -c.energy
    return c.mean_logprob if c.mean_logprob is not None else -1e9


def _order(state: SolveState) -> dict[str, int]:
    return {c.id: i for i, c in enumerate(state.candidates)}


def lexicographic(state: SolveState) -> tuple[list[str], str]:
    order = _order(state)
    ranked = sorted(state.candidates, key=lambda c: (-c.public_passed, -state.self_passed(c), -_tiebreak(c), order[c.id]))
    if not ranked:
        return [], "no candidates"
    top = ranked[0]
    tb = "energy" if top.energy is not None else "log-probability"
    return [c.id for c in ranked], (f"{top.public_passed}/{top.public_total} public, {state.self_passed(top)}/"
                                     f"{len(state.kept_self_tests)} self-tests, then {tb}")


def codet(state: SolveState) -> tuple[list[str], str]:
    order = _order(state)
    kept = [i for i, t in enumerate(state.self_tests) if t.kept]
    groups: dict[tuple, list[Candidate]] = defaultdict(list)
    for c in state.candidates:
        pub = tuple(v.passed for v in c.public)
        slf = tuple(c.self_outputs.get(i) == state.self_tests[i].expected for i in kept)
        groups[pub + slf].append(c)
    scored = []
    for key, members in groups.items():
        pub_pass = max(m.public_passed for m in members)
        score = sum(key) * math.sqrt(len(members))
        for m in members:
            scored.append((m, pub_pass, score))
    ranked = sorted(scored, key=lambda x: (-x[1], -x[2], -_tiebreak(x[0]), order[x[0].id]))
    if not ranked:
        return [], "no candidates"
    top, _, score = ranked[0]
    size = sum(1 for m, _, s in scored if s == score and m.public_passed == top.public_passed)
    return [m.id for m, _, _ in ranked], f"CodeT group score {score:.2f} (group of {size})"


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
    ranked = sorted(state.candidates, key=lambda c: (-c.public_passed, -agree[c.id], -_tiebreak(c), order[c.id]))
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
