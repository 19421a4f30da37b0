"""The Lens data object: init, save/load, embedding checks, torch round trip."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from atlas_kernel.lens import Lens, ops, reference


def make_lens(**kw) -> Lens:
    lens = Lens.init(48, seed=3, hidden=(32, 16), model_id="qwen2.5-coder-0.5b", **kw)
    lens.training_data_sha256 = "ab" * 32
    lens.info = {"epochs": 3, "note": "test"}
    rng = np.random.default_rng(0)
    lens.b1 = rng.normal(0, 0.2, 32)
    lens.b3 = 0.25
    return lens


def test_init_shapes_and_determinism() -> None:
    lens = Lens.init(576, seed=0)
    assert lens.dim == 576 and lens.hidden == (512, 128)
    w = lens.weights()
    assert {k: v.shape for k, v in w.items()} == {
        "W1": (512, 576), "b1": (512,), "W2": (128, 512), "b2": (128,), "w3": (128,), "b3": (),
    }
    assert all(v.dtype == np.float32 for v in w.values())
    assert lens.allclose(Lens.init(576, seed=0))
    assert not lens.allclose(Lens.init(576, seed=1))
    e = reference.energy(np.random.default_rng(1).standard_normal((64, 576)), lens)
    assert np.isfinite(e).all() and 0.2 < e.mean() < 2.0 and e.std() > 1e-3  # sensible scale
    assert "576" in repr(lens)


def test_init_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        Lens.init(0)
    with pytest.raises(ValueError, match="inconsistent"):
        Lens(np.zeros((4, 3)), np.zeros(5), np.zeros((2, 4)), np.zeros(2), np.zeros(2), 0.0)


def test_weights_are_immutable_and_reassignment_invalidates_cache() -> None:
    lens = make_lens()
    x = np.random.default_rng(2).standard_normal((3, 48)).astype(np.float32)
    before = ops.energy(x, lens)
    with pytest.raises(ValueError):
        lens.W1[0, 0] = 1.0
    lens.W1 = lens.W1 * 2
    after = ops.energy(x, lens)
    np.testing.assert_allclose(after, reference.energy(x, lens, dtype=np.float64), rtol=1e-4, atol=1e-5)
    assert not np.allclose(before, after)
    with pytest.raises(ValueError, match="keep shape"):
        lens.W1 = np.zeros((3, 3))
    with pytest.raises(ValueError, match="NaN"):
        lens.b2 = np.full(16, np.nan)


@pytest.mark.parametrize("name", ["lens.npz", "lens_dir"])
def test_save_load_roundtrip(tmp_path: Path, name: str) -> None:
    lens = make_lens()
    path = lens.save(tmp_path / name)
    loaded = Lens.load(path)
    assert loaded.allclose(lens)
    for k, v in lens.weights().items():
        np.testing.assert_array_equal(loaded.weights()[k], v)
    assert loaded.model_id == lens.model_id
    assert loaded.training_data_sha256 == lens.training_data_sha256
    assert loaded.info == lens.info
    assert loaded.weights_sha256() == lens.weights_sha256()
    if path.is_dir():
        meta = json.loads((path / "lens.json").read_text())
        assert meta["format"] == "atlas-lens" and meta["dim"] == 48 and meta["hidden"] == [32, 16]
    else:
        with np.load(path, allow_pickle=False) as z:  # readable without pickle
            assert json.loads(str(z["meta"][()]))["model_id"] == "qwen2.5-coder-0.5b"


def test_load_detects_corruption(tmp_path: Path) -> None:
    lens = make_lens()
    d = lens.save(tmp_path / "d")
    w = dict(np.load(d / "weights.npz"))
    w["b2"] = w["b2"] + 1.0
    np.savez(d / "weights.npz", **w)
    with pytest.raises(ValueError, match="weights_sha256"):
        Lens.load(d)
    with pytest.raises(FileNotFoundError):
        Lens.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an atlas-lens"):
        Lens.load(tmp_path / "other.npz")


def test_info_must_be_json(tmp_path: Path) -> None:
    lens = make_lens()
    lens.info = {"bad": object()}
    with pytest.raises(TypeError, match="JSON"):
        lens.save(tmp_path / "x.npz")


def test_check_embeddings_messages() -> None:
    lens = make_lens()
    lens.check_embeddings(np.zeros((2, 48)))
    lens.check_embeddings(np.zeros(48), model_id="qwen2.5-coder-0.5b")
    with pytest.raises(ValueError) as info:
        lens.check_embeddings(np.zeros((2, 48)), model_id="llama-3.2-1b")
    msg = str(info.value)
    assert "qwen2.5-coder-0.5b" in msg and "llama-3.2-1b" in msg and "dim 48" in msg
    with pytest.raises(ValueError) as info:
        lens.check_embeddings(np.zeros((2, 2048)), model_id="llama-3.2-1b")
    msg = str(info.value)
    assert "qwen2.5-coder-0.5b" in msg and "llama-3.2-1b" in msg and "48" in msg and "2048" in msg
    with pytest.raises(ValueError, match="dim-64"):
        lens.check_embeddings([[0.0] * 64])
    with pytest.raises(ValueError, match="shape"):
        lens.check_embeddings(np.zeros((2, 3, 48)))
    Lens.init(48).check_embeddings(np.zeros(48), model_id="anything")  # unnamed lens: dim only


def test_torch_roundtrip() -> None:
    torch = pytest.importorskip("torch")
    lens = make_lens()
    module = lens.to_torch()
    x = np.random.default_rng(5).standard_normal((6, 48)).astype(np.float32)
    with torch.no_grad():
        et = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(et, reference.energy(x, lens, dtype=np.float64), rtol=1e-5, atol=1e-6)
    back = Lens.from_torch(module)
    assert back.allclose(lens) and back.model_id == lens.model_id and back.info == lens.info
    renamed = Lens.from_torch(module, model_id="other")
    assert renamed.model_id == "other"
    with pytest.raises(TypeError, match="unknown metadata"):
        Lens.from_torch(module, colour="red")


def test_from_torch_sequential() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(10, 7), nn.SiLU(), nn.Linear(7, 5), nn.SiLU(), nn.Linear(5, 1), nn.Softplus())
    lens = Lens.from_torch(seq, model_id="m")
    x = torch.randn(4, 10)
    with torch.no_grad():
        want = seq(x).squeeze(-1).numpy()
    np.testing.assert_allclose(reference.energy(x.numpy(), lens), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unsupported layer"):
        Lens.from_torch(nn.Sequential(nn.Linear(10, 7), nn.ReLU(), nn.Linear(7, 5), nn.Linear(5, 1)))
    with pytest.raises(ValueError, match="exactly 3"):
        Lens.from_torch(nn.Sequential(nn.Linear(10, 1)))


def test_pickle_drops_kernel_cache() -> None:
    lens = make_lens()
    ops.energy(np.zeros((1, 48), np.float32), lens)  # fills the cache (if compiled)
    clone = pickle.loads(pickle.dumps(lens))
    assert clone.allclose(lens) and clone.model_id == lens.model_id and clone.kernel_cache == {}
    assert lens.copy().allclose(lens)
