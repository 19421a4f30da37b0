"""Compiled Lens CPU kernels against the NumPy reference (atlas_kernel.lens.ops).

The sample table and tolerances are shared with the CUDA tests (tests/lens_helpers.py). Every
kernel test runs under both CPU builds (baseline SSE2 and AVX2+FMA, when the CPU has it). The
whole file runs in a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from lens_helpers import E_TOL, SAMPLE_IDS, SAMPLES, OpsBackend, Sample, check_sample, grad_close, rand_lens, rand_x

from atlas_kernel.lens import BackendUnavailableError, arrays, extension, ops, reference

HAVE_EXT = "cpu" in ops.backends()
needs_ext = pytest.mark.skipif(not HAVE_EXT, reason="compiled extension not built (" + ops.BUILD_COMMAND + ")")


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


# ------------------------------------------------------------------------ the sample table
@needs_ext
@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_cpu_kernels_match_reference(simd: str, sample: Sample) -> None:
    check_sample(OpsBackend("cpu"), sample)


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_float32_reference_matches_float64(sample: Sample) -> None:
    """The fallback used without the extension computes in float32: same tolerances."""
    check_sample(OpsBackend("reference"), sample)


# ------------------------------------------------------------------------ energy
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
def test_landscape_lift_matches_its_definition() -> None:
    sample = SAMPLES[-3]
    lens = sample.lens()
    c, a, b, s, t = sample.plane()
    np.testing.assert_allclose(reference.landscape(lens, c, a, b, s, t, dtype=np.float64),
                               reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64), rtol=1e-10)


@needs_ext
def test_landscape_center_value_equals_energy() -> None:
    lens = rand_lens(64, seed=3)
    c, a, b = rand_x(3, 64, seed=8)
    grid = ops.landscape(lens, c, a, b, [0.0, 1.0], [0.0, -2.0])
    np.testing.assert_allclose(grid[0, 0], ops.energy(c[None], lens)[0], rtol=1e-5)
    np.testing.assert_allclose(grid[1, 1], ops.energy((c + a - 2 * b)[None], lens)[0], rtol=1e-4)


# ------------------------------------------------------------------------ pairwise cosine
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
    assert np.shares_memory(arrays.to_host(t), t.numpy())  # CPU tensors reach the kernel without a copy
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
    monkeypatch.setattr(extension, "STATE", extension.ExtensionState.missing(ImportError("no _lens_ext")))
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
