"""How many drafted tokens a decode step should carry, from what a step costs.

A decode step of n tokens does not cost n times one token, and the shape depends on the machine
and the build: on one 2-core VM here one token took 14 ms, two 36 ms, four 49 ms and eight 63 ms;
on another 32 / 51 / 75 / 148 ms (`benchmark/bench_speed.py --only shape`). So sending every
drafted token can make speculative decoding slower than plain decoding where drafts are doubtful.
`plan_drafts` keeps, of the drafts proposed for a step, the prefix lengths that maximise expected
tokens per unit of step cost, with the costs from `StepCosts`:

- `StepCosts.from_profile(CPU_STEP_PROFILE)`: fixed relative costs (between the two machines
  above). The choice then depends on tokens only, so a run's output never depends on how busy
  the machine was (Qwen2.5-Coder's logits differ in the last bits between a step of 1 and of
  1 + draft tokens, so a near-tie can fall differently when the step shape changes).
- `StepCosts()`: learns each size's cost from the steps the backend runs (exponential moving
  average): faster where the machine differs from the profile, at the price of that determinism.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

# relative cost of a decode step by tokens in it, CPU (2 threads, Qwen2.5-Coder-0.5B Q4_K_M)
CPU_STEP_PROFILE: dict[int, float] = {1: 1.0, 2: 2.0, 4: 2.9, 8: 4.5, 16: 9.0}


@dataclass
class StepCosts:
    """Cost per decode step by the number of tokens in it: an exponential moving average per
    size measured, or a fixed profile. A size not in the table is interpolated between its
    neighbours; below the smallest it costs that size's cost per token; above the largest, a
    profile grows linearly (compute-bound) and a learning table guesses it as dear as the largest,
    so that it is tried once and then measured."""

    alpha: float = 0.2
    learn: bool = True
    _ema: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_profile(cls, profile: dict[int, float]) -> "StepCosts":
        costs = cls(learn=False)
        costs._ema = {int(n): float(c) for n, c in profile.items() if int(n) >= 1 and float(c) > 0}
        if not costs._ema:
            raise ValueError("a step-cost profile needs at least one size >= 1 with a positive cost")
        return costs

    def record(self, n_tokens: int, seconds: float) -> None:
        if not self.learn or n_tokens < 1 or seconds <= 0:
            return
        old = self._ema.get(n_tokens)
        self._ema[n_tokens] = seconds if old is None else old + self.alpha * (seconds - old)

    def estimate(self, n_tokens: int) -> float | None:
        """Cost of a step of n_tokens, or None before any step was measured."""
        if not self._ema:
            return None
        if n_tokens in self._ema:
            return self._ema[n_tokens]
        below = [n for n in self._ema if n < n_tokens]
        above = [n for n in self._ema if n > n_tokens]
        if below and above:
            lo, hi = max(below), min(above)
            c_lo, c_hi = self._ema[lo], self._ema[hi]
            return min(c_hi, c_lo + (c_hi - c_lo) * (n_tokens - lo) / (hi - lo))
        if above:  # smaller than anything seen: at the same cost per token as the smallest
            hi = min(above)
            return self._ema[hi] * n_tokens / hi
        if not self.learn:  # beyond a profile: compute-bound, linear
            top = max(below)
            return self._ema[top] * n_tokens / top
        return self._ema[max(below)]  # larger than anything measured: try it as if it were free

    def table(self) -> dict[int, float]:
        """The table as it stands: milliseconds when learnt, relative costs for a profile."""
        scale = 1e3 if self.learn else 1.0
        return {n: round(self._ema[n] * scale, 3) for n in sorted(self._ema)}


def acceptance_estimate(accepted: int, missed: int, prior: float, weight: float = 4.0) -> float:
    """Probability that a sequence's next drafted position is accepted: its own record (draft
    positions accepted, steps whose draft missed) shrunk towards `prior`, the rate of this draft
    mode over earlier calls, with the weight of `weight` positions."""
    return (accepted + weight * prior) / (accepted + missed + weight)


def mode_prior(accepted: int, missed: int) -> float:
    """The acceptance rate of a draft mode over all calls so far, starting optimistic (nine hits,
    one miss) so that a mode is tried before its record can stop it."""
    return (accepted + 9.0) / (accepted + missed + 10.0)


def plan_drafts(proposals: dict[int, list[int]], accept: dict[int, float], costs: StepCosts) -> dict[int, int]:
    """How many tokens of each sequence's proposal to send this step.

    Every live sequence sends its pending token (`proposals` has one entry per live sequence,
    possibly an empty draft); its j-th drafted token yields a token only if the j before it are
    accepted too, worth accept**j. Expected tokens for m drafted tokens in all is the sum of the m
    largest such worths (they fall with j within a sequence, so the m largest are prefixes); the
    step carries the m that maximises expected tokens per second of step."""
    base = len(proposals)
    keep = {i: 0 for i in proposals}
    total = sum(len(d) for d in proposals.values())
    if total == 0:
        return keep
    if costs.estimate(base) is None:  # nothing measured yet: send everything and learn
        return {i: len(d) for i, d in proposals.items()}
    heap = [(-accept[i], i, 1) for i, d in proposals.items() if d]
    heapq.heapify(heap)
    order: list[int] = []
    value = float(base)
    best_m, best_rate = 0, value / max(costs.estimate(base) or 1e-9, 1e-9)
    while heap:
        neg, i, j = heapq.heappop(heap)
        value += -neg
        order.append(i)
        if j < len(proposals[i]):
            heapq.heappush(heap, (neg * accept[i], i, j + 1))
        m = len(order)
        rate = value / max(costs.estimate(base + m) or 1e-9, 1e-9)
        if rate > best_rate:
            best_m, best_rate = m, rate
    for i in order[:best_m]:
        keep[i] += 1
    return keep
