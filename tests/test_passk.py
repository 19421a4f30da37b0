import itertools
import math

import pytest

from atlas_kernel.grading.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 1, 1), (5, 2, 3), (10, 3, 5), (7, 7, 2), (20, 1, 20)])
def test_pass_at_k_equals_the_combinatorial_definition(n, c, k):
    # brute force: fraction of k-subsets of n samples with at least one correct one
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    expected = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert math.isclose(pass_at_k(n, c, k), expected, rel_tol=1e-12, abs_tol=1e-12)


def test_pass_at_k_is_only_reported_for_k_every_task_has_samples_for():
    out = mean_pass_at_k([(5, 1), (3, 0)], ks=(1, 3, 5))
    assert set(out) == {1, 3}
    assert math.isclose(out[1], (0.2 + 0.0) / 2)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
