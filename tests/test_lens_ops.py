"""Compiled Lens CPU kernels against the NumPy reference (atlas_kernel.lens.ops).

Tolerances (kernels are float32; the oracle is the float64 reference):
  energies, landscape, pairwise distances: rtol 1e-4, atol 1e-5
  gradients: rtol 1e-3, atol 1e-5 * max|grad|  (three chained products in float32)
Every kernel test runs under both CPU builds (baseline SSE2 and AVX2+FMA, when the CPU
has it). The whole file runs in a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from atlas_kernel.lens import BackendUnavailableError, Lens, ops, reference

HAVE_EXT = "cpu" in ops.backends()
needs_ext = pytest.mark.skipif(not HAVE_EXT, reason="compiled extension not built (" + ops.BUILD_COMMAND + ")")

E_TOL = dict(rtol=1e-4, atol=1e-5)


def grad_close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def rand_lens(dim: int, hidden: tuple[int, int] = (512, 128), seed: int = 0, model_id: str | None = None) -> Lens:
    """Random weights including non-zero biases (an initialised lens has zero biases)."""
    lens = Lens.init(dim, seed=seed, hidden=hidden, model_id=model_id)
    rng = np.random.default_rng(seed + 1000)
    lens.b1 = rng.normal(0, 0.5, hidden[0])
    lens.b2 = rng.normal(0, 0.5, hidden[1])
    lens.b3 = rng.normal(0, 0.5)
    return lens


def rand_x(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


SIMD_BUILDS = ["baseline"]
if HAVE_EXT:
    from atlas_kernel import _lens_ext

    if "avx2" in _lens_ext.build_info()["cpu_builds"]:
        try:
            _lens_ext.set_simd("avx2")
            SIMD_BUILDS.append("avx2")
        except ValueError:
            pass
        _lens_ext.set_simd("auto")


@pytest.fixture(params=SIMD_BUILDS)
def simd(request: pytest.FixtureRequest):
    if not HAVE_EXT:
        pytest.skip("compiled extension not built")
    from atlas_kernel import _lens_ext

    _lens_ext.set_simd(request.param)
    yield request.param
    _lens_ext.set_simd("auto")


# ------------------------------------------------------------------------ energy
SHAPES = [(1, 13), (2, 1), (3, 37), (5, 64), (7, 100), (13, 576), (64, 640), (257, 77)]


@needs_ext
@pytest.mark.parametrize("n,dim", SHAPES)
def test_energy_matches_reference(simd: str, n: int, dim: int) -> None:
    lens = rand_lens(dim, seed=n + dim)
    x = rand_x(n, dim, seed=n)
    got = ops.energy(x, lens, backend="cpu")
    assert got.dtype == np.float32 and got.shape == (n,)
    np.testing.assert_allclose(got, reference.energy(x, lens, dtype=np.float64), **E_TOL)


@needs_ext
@pytest.mark.parametrize("hidden", [(1, 1), (17, 5), (50, 20), (100, 130)])
def test_energy_odd_hidden_sizes(simd: str, hidden: tuple[int, int]) -> None:
    lens = rand_lens(45, hidden=hidden, seed=sum(hidden))
    x = rand_x(31, 45)
    np.testing.assert_allclose(ops.energy(x, lens, backend="cpu"), reference.energy(x, lens, dtype=np.float64), **E_TOL)


@needs_ext
@pytest.mark.parametrize("n,dim", [(3, 4096), (300, 700)])
def test_energy_threaded_paths(n: int, dim: int) -> None:
    """(3, 4096): small-N path that splits W1 panels over threads; (300, 700): row blocks."""
    lens = rand_lens(dim, seed=7)
    x = rand_x(n, dim, seed=3)
    want = reference.energy(x, lens, dtype=np.float64)
    np.testing.assert_allclose(ops.energy(x, lens), want, **E_TOL)
    ops.set_num_threads(1)
    try:
        np.testing.assert_allclose(ops.energy(x, lens), want, **E_TOL)
    finally:
        ops.set_num_threads(0)


@needs_ext
def test_energy_large_activations_are_finite() -> None:
    lens = rand_lens(16, seed=1)
    x = rand_x(8, 16) * 1e4  # saturates SiLU / softplus on both sides
    got = ops.energy(x, lens)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, reference.energy(x, lens, dtype=np.float64), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------------ gradient
@needs_ext
@pytest.mark.parametrize("n,dim", [(1, 13), (3, 37), (6, 100), (29, 576), (3, 2000), (100, 300)])
def test_energy_grad_matches_reference(simd: str, n: int, dim: int) -> None:
    lens = rand_lens(dim, seed=dim)
    x = rand_x(n, dim, seed=n)
    e, g = ops.energy_grad(x, lens, backend="cpu")
    re, rg = reference.energy_grad(x, lens, dtype=np.float64)
    assert e.shape == (n,) and g.shape == (n, dim) and g.dtype == np.float32
    np.testing.assert_allclose(e, re, **E_TOL)
    grad_close(g, rg)


def test_reference_grad_matches_finite_differences() -> None:
    lens = rand_lens(11, hidden=(20, 9), seed=5)
    x = rand_x(4, 11, seed=9).astype(np.float64)
    _, g = reference.energy_grad(x, lens, dtype=np.float64)
    h = 1e-6
    fd = np.zeros_like(x)
    for j in range(x.shape[1]):
        xp, xm = x.copy(), x.copy()
        xp[:, j] += h
        xm[:, j] -= h
        fd[:, j] = (reference.energy(xp, lens, dtype=np.float64) - reference.energy(xm, lens, dtype=np.float64)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@needs_ext
def test_energy_grad_matches_torch_autograd() -> None:
    torch = pytest.importorskip("torch")
    lens = rand_lens(70, seed=2)
    x = rand_x(9, 70, seed=4)
    module = lens.to_torch().double()
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    et = module(xt)
    et.sum().backward()
    e, g = ops.energy_grad(x, lens)
    np.testing.assert_allclose(e, et.detach().numpy(), **E_TOL)
    grad_close(g, xt.grad.numpy())


# ------------------------------------------------------------------------ landscape
@needs_ext
@pytest.mark.parametrize("S,T,dim", [(1, 1, 5), (4, 9, 37), (13, 7, 576), (40, 33, 100)])
def test_landscape_matches_naive_lift(simd: str, S: int, T: int, dim: int) -> None:
    lens = rand_lens(dim, seed=S)
    rng = np.random.default_rng(T)
    c, a, b = (rng.standard_normal(dim).astype(np.float32) for _ in range(3))
    s = np.linspace(-3, 2, S, dtype=np.float32)
    t = np.linspace(-1, 4, T, dtype=np.float32)
    got = ops.landscape(lens, c, a, b, s, t, backend="cpu")
    assert got.shape == (S, T) and got.dtype == np.float32
    naive = reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64)
    np.testing.assert_allclose(got, naive, **E_TOL)
    np.testing.assert_allclose(reference.landscape(lens, c, a, b, s, t, dtype=np.float64), naive, rtol=1e-10)


@needs_ext
def test_landscape_center_value_equals_energy() -> None:
    lens = rand_lens(64, seed=3)
    c, a, b = rand_x(3, 64, seed=8)
    grid = ops.landscape(lens, c, a, b, [0.0, 1.0], [0.0, -2.0])
    np.testing.assert_allclose(grid[0, 0], ops.energy(c[None], lens)[0], rtol=1e-5)
    np.testing.assert_allclose(grid[1, 1], ops.energy((c + a - 2 * b)[None], lens)[0], rtol=1e-4)


# ------------------------------------------------------------------------ pairwise cosine
@needs_ext
@pytest.mark.parametrize("n,dim", [(1, 4), (2, 3), (7, 37), (40, 576), (130, 20)])
def test_pairwise_cosine_matches_reference(simd: str, n: int, dim: int) -> None:
    x = rand_x(n, dim, seed=n)
    if n >= 3:
        x[2] = 0.0
    got = ops.pairwise_cosine(x, backend="cpu")
    assert got.shape == (n, n)
    np.testing.assert_allclose(got, reference.pairwise_cosine(x, dtype=np.float64), **E_TOL)
    np.testing.assert_array_equal(np.diag(got), 0.0)
    np.testing.assert_allclose(got, got.T, atol=1e-6)
    assert (got >= 0).all() and (got <= 2).all()


@needs_ext
def test_pairwise_cosine_known_values() -> None:
    x = np.array([[1, 0], [0, 2], [-3, 0], [1, 1], [0, 0]], dtype=np.float32)
    d = ops.pairwise_cosine(x)
    assert d[0, 1] == pytest.approx(1.0, abs=1e-6)
    assert d[0, 2] == pytest.approx(2.0, abs=1e-6)
    assert d[0, 3] == pytest.approx(1 - np.sqrt(0.5), abs=1e-6)
    assert d[4, 0] == pytest.approx(1.0) and d[4, 4] == 0.0


# ------------------------------------------------------------------------ inputs
@needs_ext
def test_input_types_and_dtypes() -> None:
    lens = rand_lens(24, seed=1)
    x = rand_x(5, 24)
    want = ops.energy(x, lens)
    np.testing.assert_allclose(ops.energy(x.tolist(), lens), want, rtol=1e-6)
    np.testing.assert_allclose(ops.energy(x.astype(np.float64), lens), want, rtol=1e-6)
    wide = np.zeros((5, 48), np.float32)
    wide[:, ::2] = x
    np.testing.assert_allclose(ops.energy(wide[:, ::2], lens), want, rtol=1e-6)  # non-contiguous
    assert ops.energy(x[0], lens).shape == (1,)  # one embedding
    e1, g1 = ops.energy_grad(x[0], lens)
    assert e1.shape == (1,) and g1.shape == (1, 24)
    assert ops.energy(np.zeros((0, 24), np.float32), lens).shape == (0,)


@needs_ext
def test_torch_cpu_inputs() -> None:
    torch = pytest.importorskip("torch")
    lens = rand_lens(24, seed=1)
    x = rand_x(5, 24)
    want = ops.energy(x, lens)
    t = torch.from_numpy(x.copy())
    assert np.shares_memory(ops._host(t), t.numpy())  # CPU tensors reach the kernel without a copy
    np.testing.assert_allclose(ops.energy(t, lens), want, rtol=1e-6)
    np.testing.assert_allclose(ops.energy(t.clone().requires_grad_(True), lens), want, rtol=1e-6)
    np.testing.assert_allclose(ops.energy(t.double(), lens), want, rtol=1e-6)
    np.testing.assert_allclose(ops.energy(t.to(torch.bfloat16), lens), want, rtol=3e-2, atol=3e-2)
    out = ops.energy(t, lens)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


def test_wrong_model_or_dim_is_refused() -> None:
    lens = rand_lens(32, model_id="qwen2.5-0.5b", seed=1)
    with pytest.raises(ValueError, match=r"qwen2\.5-0\.5b.*dim 32.*llama-3.*dim 32"):
        ops.energy(rand_x(2, 32), lens, model_id="llama-3")
    with pytest.raises(ValueError, match=r"dim 32.*dim-40"):
        ops.energy(rand_x(2, 40), lens)
    with pytest.raises(ValueError, match="dim 32"):
        ops.energy_grad(rand_x(2, 40), lens)
    with pytest.raises(ValueError, match="dim 32"):
        ops.landscape(lens, np.zeros(40), np.zeros(40), np.zeros(40), [0.0], [0.0])
    ops.energy(rand_x(2, 32), lens, model_id="qwen2.5-0.5b")  # matching model is fine


# ------------------------------------------------------------------------ backends
def test_backends_and_errors() -> None:
    bk = ops.backends()
    assert bk in ([], ["cpu"], ["cpu", "cuda"])
    lens = rand_lens(8)
    with pytest.raises(ValueError, match="backend must be one of"):
        ops.energy(rand_x(1, 8), lens, backend="gpu")
    if "cuda" not in bk:
        with pytest.raises(BackendUnavailableError, match="backend='cuda' is not available|compiled extension"):
            ops.energy(rand_x(2, 8), lens, backend="cuda")
        info = ops.backend_info()["cuda"]
        assert "not compiled" in info or "no CUDA device" in info or "missing" in info or "unavailable" in info
    np.testing.assert_allclose(ops.energy(rand_x(3, 8), lens, backend="reference"), reference.energy(rand_x(3, 8), lens))


def test_missing_extension_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops, "_ext_state", {"loaded": True, "module": None, "error": ImportError("no _lens_ext"), "cuda": None})
    monkeypatch.setattr(ops, "_warned", set())
    lens = rand_lens(16)
    x = rand_x(4, 16)
    assert ops.backends() == []
    with pytest.warns(RuntimeWarning, match="NumPy reference"):
        got = ops.energy(x, lens)
    np.testing.assert_allclose(got, reference.energy(x, lens), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned only once
        ops.energy(x, lens)
        ops.pairwise_cosine(x)
    with pytest.raises(BackendUnavailableError, match="setup.py build_ext --inplace"):
        ops.energy(x, lens, backend="cpu")
    with pytest.raises(BackendUnavailableError, match="backend='cuda'"):
        ops.energy(x, lens, backend="cuda")


def test_import_is_lazy() -> None:
    code = (
        "import sys, atlas_kernel.lens as L\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'atlas_kernel._lens_ext' not in sys.modules, 'extension loaded'\n"
        "L.Lens.init(8)\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


# ------------------------------------------------------------------------ threading
@needs_ext
def test_concurrent_callers() -> None:
    lens = rand_lens(300, seed=4)
    xs = [rand_x(n, 300, seed=n) for n in (3, 50, 200, 7)]
    wants = [reference.energy(x, lens, dtype=np.float64) for x in xs]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(5):
                np.testing.assert_allclose(ops.energy(xs[i], lens), wants[i], **E_TOL)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]


@needs_ext
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.timeout(60)
def test_fork_after_use() -> None:
    lens = rand_lens(600, seed=4)
    x = rand_x(200, 600)
    want = ops.energy(x, lens)  # starts the worker pool in the parent
    pid = os.fork()
    if pid == 0:  # child: a fresh pool must be built, not the parent's dead one
        ok = np.allclose(ops.energy(x, lens), want, rtol=1e-5)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
