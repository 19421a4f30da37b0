"""Lens training and leave-problems-out evaluation on synthetic data with a known signal."""

import numpy as np
import pytest

pytest.importorskip("torch")

from atlas_kernel.lens import ops  # noqa: E402
from atlas_kernel.lens.data import LensData  # noqa: E402
from atlas_kernel.lens.model import Lens  # noqa: E402
from atlas_kernel.lens.scoring import LensScorer, OnlineLens  # noqa: E402
from atlas_kernel.lens.train import TrainConfig, auc, cross_validate, train_lens  # noqa: E402


def synthetic(n_problems=30, per=8, dim=24, seed=0, signal=2.0):
    direction = np.random.default_rng(1234).standard_normal(dim).astype(np.float32)  # the same signal everywhere
    rng = np.random.default_rng(seed)
    X, y, g = [], [], []
    for p in range(n_problems):
        offset = rng.standard_normal(dim) * 3  # problems sit in different places
        for _ in range(per):
            passed = rng.random() < 0.35
            X.append(offset + rng.standard_normal(dim) + (signal * direction if passed else 0))
            y.append(int(passed))
            g.append(p)
    return LensData(np.array(X, np.float32), np.array(y), np.array(g), [f"p{i}" for i in range(n_problems)], "toy")


FAST = TrainConfig(epochs=80, hidden=(32, 16), lr=3e-3)


def test_auc_matches_pairwise_definition():
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    y = np.array([0, 0, 1, 1, 1])
    pairs = [(a, b) for a in s[y == 1] for b in s[y == 0]]
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert auc(s, y) == pytest.approx(expected)


def test_trained_lens_ranks_held_out_problems_and_records_its_data():
    data = synthetic()
    lens = train_lens(data, FAST)
    assert lens.model_id == "toy" and lens.training_data_sha256 == data.sha256()
    test = synthetic(seed=1)  # other problems entirely
    e = np.asarray(ops.energy(test.X, lens))
    assert auc(-e, test.y) > 0.75
    # the standardisation folded into W1 gives the same energies as the kernels compute on raw inputs
    np.testing.assert_allclose(e, ops.reference.energy(test.X, lens), rtol=1e-4, atol=1e-5)


def test_cross_validation_never_trains_on_a_test_problem_and_beats_random():
    data = synthetic()
    rep = cross_validate(data, FAST, folds=3)
    assert rep["n_problems"] == 30 and rep["auc"] > 0.7
    assert rep["lowest_energy_passes"] > rep["random_pick_passes"]


def test_lens_data_round_trip_and_model_check(tmp_path):
    data = synthetic(n_problems=4)
    back = LensData.load(data.save(tmp_path / "d.npz"))
    assert back.sha256() == data.sha256() and back.problems == data.problems
    scorer = LensScorer(Lens.init(24, model_id="toy"), model_id="other-model")
    with pytest.raises(ValueError):
        scorer(None, [], data.X[:3])


def test_online_update_moves_energies_toward_public_outcomes():
    data = synthetic(n_problems=1, per=10, seed=3)
    online = OnlineLens(Lens.init(24, seed=1, hidden=(32, 16), model_id="toy"), lr=0.05, steps=20)
    before = np.asarray(ops.energy(data.X, online.lens))
    gap_before = before[data.y == 0].mean() - before[data.y == 1].mean()
    assert online.update(data.X, data.y.astype(bool), source="public")
    after = np.asarray(ops.energy(data.X, online.lens))
    assert after[data.y == 0].mean() - after[data.y == 1].mean() > gap_before
    assert online.lens.info["online_sources"] == ["public"]


def test_streamed_recalibration_learns_over_the_stream_and_never_scores_with_its_own_labels():
    from atlas_kernel.lens.train import streamed_energies

    data = synthetic(n_problems=40, per=8, seed=5)
    start = lambda train: Lens.init(24, seed=2, hidden=(32, 16), model_id="toy")  # noqa: E731
    e = streamed_energies(data, start, data.y, folds=2, lr=0.05, steps=10, source="hidden")
    assert np.isfinite(e).all()
    assert auc(-e, data.y) > 0.65  # an untrained lens alone ranks at chance
    # flipping the labels of the last problem (last in its fold's stream) changes nothing already scored
    flipped = data.y.copy()
    last = data.group == data.group.max()
    flipped[last] = 1 - flipped[last]
    e2 = streamed_energies(data, start, flipped, folds=2, lr=0.05, steps=10, source="hidden")
    np.testing.assert_allclose(e2, e)
