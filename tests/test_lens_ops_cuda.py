"""Lens CUDA kernels on a real GPU (skipped unless ``"cuda" in ops.backends()``).

Run on a GPU machine after building with nvcc present::

    ATLAS_BUILD_CUDA=1 pip install -e . --no-build-isolation
    pytest -m cuda tests/test_lens_ops_cuda.py

Covers NumPy input (upload / download), torch CUDA tensors (results stay torch
tensors on the same device, on the caller's stream, also a non-default one), CuPy
arrays, dtype / layout conversion, the row-chunk loop (N > 32768) and auto-selection.
Same tolerances as the CPU tests (float32 vs float64 oracle).
"""

from __future__ import annotations

import numpy as np
import pytest
from lens_helpers import E_TOL, SAMPLE_IDS, SAMPLES, OpsBackend, Sample, check_sample, grad_close, rand_lens, rand_x

from atlas_kernel.lens import ops, reference

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif("cuda" not in ops.backends(), reason="no usable CUDA backend: " + str(ops.backend_info().get("cuda"))),
]


@pytest.fixture(scope="module")
def torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    return torch


# ------------------------------------------------------------------------ the sample table
@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_cuda_kernels_match_reference(sample: Sample) -> None:
    """NumPy in, NumPy out: uploaded to device 0, computed there, downloaded."""
    check_sample(OpsBackend("cuda"), sample)


@pytest.mark.parametrize("n,dim", [(65, 640), (300, 4096)])
def test_numpy_input_on_cuda_large(n: int, dim: int) -> None:
    lens = rand_lens(dim, seed=n)
    x = rand_x(n, dim, seed=dim)
    e2, g = ops.energy_grad(x, lens, backend="cuda")
    re, rg = reference.energy_grad(x, lens, dtype=np.float64)
    np.testing.assert_allclose(e2, re, **E_TOL)
    grad_close(g, rg)


# ------------------------------------------------------------------------ torch CUDA tensors
def test_torch_cuda_tensors_stay_on_device(torch_cuda) -> None:
    torch = torch_cuda
    lens = rand_lens(640, seed=2)
    x = rand_x(50, 640)
    xt = torch.from_numpy(x).cuda()
    e = ops.energy(xt, lens)  # auto -> cuda for device input
    assert isinstance(e, torch.Tensor) and e.is_cuda and e.device == xt.device and e.dtype == torch.float32
    want_e, want_g = reference.energy_grad(x, lens, dtype=np.float64)
    np.testing.assert_allclose(e.cpu().numpy(), want_e, **E_TOL)
    e2, g = ops.energy_grad(xt, lens)
    assert g.is_cuda and g.shape == (50, 640)
    grad_close(g.cpu().numpy(), want_g)
    d = ops.pairwise_cosine(xt)
    assert d.is_cuda
    np.testing.assert_allclose(d.cpu().numpy(), reference.pairwise_cosine(x, dtype=np.float64), **E_TOL)


def test_torch_conversions_and_autograd_inputs(torch_cuda) -> None:
    torch = torch_cuda
    lens = rand_lens(96, seed=4)
    x = rand_x(20, 96)
    want = reference.energy(x, lens, dtype=np.float64)
    base = torch.from_numpy(x).cuda()
    wide = torch.zeros(20, 192, device="cuda")
    wide[:, ::2] = base
    for xt in (base.double(), wide[:, ::2], base.clone().requires_grad_(True)):
        np.testing.assert_allclose(ops.energy(xt, lens).cpu().numpy(), want, **E_TOL)
    np.testing.assert_allclose(ops.energy(base.half(), lens).cpu().numpy(), want, rtol=5e-3, atol=5e-3)


def test_torch_nondefault_stream(torch_cuda) -> None:
    torch = torch_cuda
    lens = rand_lens(256, seed=5)
    x = rand_x(4000, 256)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        xt = torch.from_numpy(x).to("cuda", non_blocking=False) * 1.0  # produced on `stream`
        e = ops.energy(xt, lens)  # must be ordered after the multiply, on `stream`
        e = e + 0.0
    stream.synchronize()
    np.testing.assert_allclose(e.cpu().numpy(), reference.energy(x, lens, dtype=np.float64), **E_TOL)


def test_torch_landscape_on_device(torch_cuda) -> None:
    torch = torch_cuda
    lens = rand_lens(300, seed=6)
    rng = np.random.default_rng(1)
    c, a, b = (rng.standard_normal(300).astype(np.float32) for _ in range(3))
    s = np.linspace(-1, 1, 21, dtype=np.float32)
    t = torch.linspace(-2, 2, 11)  # coordinates may be tensors too
    grid = ops.landscape(lens, torch.from_numpy(c).cuda(), torch.from_numpy(a).cuda(), b, s, t)
    assert isinstance(grid, torch.Tensor) and grid.is_cuda and tuple(grid.shape) == (21, 11)
    naive = reference.landscape_naive(lens, c, a, b, s, t.numpy(), dtype=np.float64)
    np.testing.assert_allclose(grid.cpu().numpy(), naive, **E_TOL)


def test_row_chunking_large_n(torch_cuda) -> None:
    torch = torch_cuda
    lens = rand_lens(64, seed=7)
    x = rand_x(70000, 64)  # > 2 chunks of 32768 rows
    e = ops.energy(torch.from_numpy(x).cuda(), lens).cpu().numpy()
    np.testing.assert_allclose(e, reference.energy(x, lens, dtype=np.float64), **E_TOL)
    e2, g = ops.energy_grad(torch.from_numpy(x[:40000]).cuda(), lens)
    re, rg = reference.energy_grad(x[:40000], lens, dtype=np.float64)
    np.testing.assert_allclose(e2.cpu().numpy(), re, **E_TOL)
    grad_close(g.cpu().numpy(), rg)


def test_multi_gpu_device_index(torch_cuda) -> None:
    torch = torch_cuda
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs")
    lens = rand_lens(128, seed=8)
    x = rand_x(33, 128)
    e = ops.energy(torch.from_numpy(x).to("cuda:1"), lens)
    assert e.device.index == 1
    np.testing.assert_allclose(e.cpu().numpy(), reference.energy(x, lens, dtype=np.float64), **E_TOL)


# ------------------------------------------------------------------------ CuPy
def test_cupy_arrays() -> None:
    cupy = pytest.importorskip("cupy")
    lens = rand_lens(200, seed=9)
    x = rand_x(77, 200)
    xc = cupy.asarray(x)
    e = ops.energy(xc, lens)
    assert isinstance(e, cupy.ndarray) and e.shape == (77,)
    np.testing.assert_allclose(cupy.asnumpy(e), reference.energy(x, lens, dtype=np.float64), **E_TOL)
    e2, g = ops.energy_grad(xc.astype(cupy.float64), lens)
    re, rg = reference.energy_grad(x, lens, dtype=np.float64)
    grad_close(cupy.asnumpy(g), rg)
    d = ops.pairwise_cosine(xc[:, ::2])  # non-contiguous view
    np.testing.assert_allclose(cupy.asnumpy(d), reference.pairwise_cosine(x[:, ::2], dtype=np.float64), **E_TOL)
    with cupy.cuda.Stream(non_blocking=True):
        e3 = ops.energy(xc * 1.0, lens)
        cupy.cuda.get_current_stream().synchronize()
    np.testing.assert_allclose(cupy.asnumpy(e3), cupy.asnumpy(e), rtol=1e-6)


def test_generic_cuda_array_interface() -> None:
    lens = rand_lens(32, seed=10)
    x = rand_x(9, 32)
    dev = ops.DeviceArray.from_host(x, 0)
    e = ops.energy(dev, lens)
    assert isinstance(e, ops.DeviceArray)
    np.testing.assert_allclose(e.get(), reference.energy(x, lens, dtype=np.float64), **E_TOL)
    np.testing.assert_allclose(ops.energy(dev, lens, backend="cpu").get(), e.get(), rtol=1e-4, atol=1e-5)
