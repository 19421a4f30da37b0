"""The unbiased pass@k estimator (Chen et al. 2021) in its numerically stable product form."""

from __future__ import annotations

from typing import Iterable, Sequence

import math


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) passes.

    1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i); exact for n - c < k.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], ks: Iterable[int] = (1, 10, 100)) -> dict[int, float]:
    """Mean pass@k over tasks given (n, c) per task; only k <= min(n) are reported,
    so no task's estimate needs samples it does not have."""
    if not counts:
        return {}
    n_min = min(n for n, _ in counts)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks if k <= n_min}
