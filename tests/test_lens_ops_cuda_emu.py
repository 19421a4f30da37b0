"""The CUDA kernels' logic, run on the CPU through csrc/cuda/emu/cuda_emu.h.

The kernel text of csrc/cuda/lens_cuda_kernels.cuh is compiled with g++ against a tiny
emulation of CUDA (blocks run one after another, threads are std::threads, shared
memory is function statics, __syncthreads a barrier). That checks tiling, bounds,
epilogues, reductions and the host-side chunk loop on machines without a GPU; the
real-GPU tests live in test_lens_ops_cuda.py. Row chunks are shrunk to 16 rows so the
chunk loop runs. Tolerances as for the CPU kernels (float32 sums in another order).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from atlas_kernel.lens import Lens, reference

ROOT = Path(__file__).resolve().parents[1]
EMU_SRC = ROOT / "csrc" / "cuda" / "emu" / "lens_cuda_emu.cpp"
CHUNK = 16

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emulation")


class LensDev(ctypes.Structure):
    _fields_ = [
        ("W1", ctypes.c_void_p),
        ("b1", ctypes.c_void_p),
        ("W2", ctypes.c_void_p),
        ("b2", ctypes.c_void_p),
        ("w3", ctypes.c_void_p),
        ("b3", ctypes.c_float),
        ("D", ctypes.c_int),
        ("H1", ctypes.c_int),
        ("H2", ctypes.c_int),
    ]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    tmp = tmp_path_factory.mktemp("cuda_emu")
    probe = tmp / "probe.cpp"
    probe.write_text("#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n")
    if subprocess.run(["g++", "-std=c++20", "-pthread", str(probe), "-o", str(tmp / "probe")], capture_output=True).returncode:
        pytest.skip("g++ without C++20 <barrier>")
    out = tmp / "lens_cuda_emu.so"
    cmd = [
        "g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread",
        f"-DATLAS_CUDA_ROW_CHUNK={CHUNK}", str(EMU_SRC), "-o", str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail("emulation build failed:\n" + proc.stderr[-3000:])
    lib = ctypes.CDLL(str(out))
    vp, ll, i = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int
    lib.atlas_cuda_energy.argtypes = [ctypes.POINTER(LensDev), vp, ll, vp, i, vp]
    lib.atlas_cuda_energy_grad.argtypes = [ctypes.POINTER(LensDev), vp, ll, vp, vp, i, vp]
    lib.atlas_cuda_landscape.argtypes = [ctypes.POINTER(LensDev), vp, vp, vp, vp, ll, vp, ll, vp, i, vp]
    lib.atlas_cuda_pairwise_cosine.argtypes = [vp, ll, i, vp, i, vp]
    for fn in (lib.atlas_cuda_energy, lib.atlas_cuda_energy_grad, lib.atlas_cuda_landscape, lib.atlas_cuda_pairwise_cosine):
        fn.restype = i
    return lib


def ptr(a: np.ndarray) -> int:
    return a.ctypes.data


class Guarded:
    """Output buffer with NaN guard zones on both sides to catch out-of-bounds writes."""

    PAD = 64

    def __init__(self, shape: tuple[int, ...]) -> None:
        n = int(np.prod(shape))
        self.buf = np.full(n + 2 * self.PAD, np.nan, dtype=np.float32)
        self.shape = shape
        self.n = n

    @property
    def ptr(self) -> int:
        return self.buf.ctypes.data + 4 * self.PAD

    def value(self) -> np.ndarray:
        assert np.isnan(self.buf[: self.PAD]).all() and np.isnan(self.buf[self.PAD + self.n :]).all(), "write out of bounds"
        return self.buf[self.PAD : self.PAD + self.n].reshape(self.shape)


def dev_lens(lens: Lens) -> tuple[LensDev, dict[str, np.ndarray]]:
    w = {k: np.ascontiguousarray(v) for k, v in lens.weights().items()}
    h1, h2 = lens.hidden
    d = LensDev(ptr(w["W1"]), ptr(w["b1"]), ptr(w["W2"]), ptr(w["b2"]), ptr(w["w3"]), float(lens.b3), lens.dim, h1, h2)
    return d, w  # keep w alive


def rand_lens(dim: int, hidden: tuple[int, int], seed: int) -> Lens:
    lens = Lens.init(dim, seed=seed, hidden=hidden)
    rng = np.random.default_rng(seed + 100)
    lens.b1 = rng.normal(0, 0.3, hidden[0])
    lens.b2 = rng.normal(0, 0.3, hidden[1])
    lens.b3 = rng.normal(0, 0.3)
    return lens


CASES = [(1, 5, (16, 8)), (7, 37, (40, 24)), (70, 19, (65, 33)), (33, 130, (512, 128))]


@pytest.mark.parametrize("n,dim,hidden", CASES)
def test_emu_energy_and_grad(emu: ctypes.CDLL, n: int, dim: int, hidden: tuple[int, int]) -> None:
    lens = rand_lens(dim, hidden, seed=n)
    x = np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)
    L, keep = dev_lens(lens)
    e = Guarded((n,))
    assert emu.atlas_cuda_energy(ctypes.byref(L), ptr(x), n, e.ptr, 0, None) == 0
    ref_e, ref_g = reference.energy_grad(x, lens, dtype=np.float64)
    np.testing.assert_allclose(e.value(), ref_e, rtol=1e-4, atol=1e-5)
    e2, g = Guarded((n,)), Guarded((n, dim))
    assert emu.atlas_cuda_energy_grad(ctypes.byref(L), ptr(x), n, e2.ptr, g.ptr, 0, None) == 0
    np.testing.assert_allclose(e2.value(), ref_e, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g.value(), ref_g, rtol=1e-3, atol=1e-5 * max(1.0, np.abs(ref_g).max()))


@pytest.mark.parametrize("S,T", [(1, 1), (5, 9), (17, 3)])
def test_emu_landscape(emu: ctypes.CDLL, S: int, T: int) -> None:
    dim, hidden = 29, (48, 20)
    lens = rand_lens(dim, hidden, seed=S * T)
    rng = np.random.default_rng(S + T)
    c, a, b = (rng.standard_normal(dim).astype(np.float32) for _ in range(3))
    s = np.linspace(-2, 1.5, S, dtype=np.float32)
    t = np.linspace(-1, 2, T, dtype=np.float32)
    L, keep = dev_lens(lens)
    out = Guarded((S, T))
    assert emu.atlas_cuda_landscape(ctypes.byref(L), ptr(c), ptr(a), ptr(b), ptr(s), S, ptr(t), T, out.ptr, 0, None) == 0
    naive = reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64)
    np.testing.assert_allclose(out.value(), naive, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n,dim", [(1, 3), (6, 40), (70, 17)])
def test_emu_pairwise_cosine(emu: ctypes.CDLL, n: int, dim: int) -> None:
    x = np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)
    if n > 2:
        x[1] = 0.0  # zero vector: distance 1 to the others
    out = Guarded((n, n))
    assert emu.atlas_cuda_pairwise_cosine(ptr(x), n, dim, out.ptr, 0, None) == 0
    np.testing.assert_allclose(out.value(), reference.pairwise_cosine(x, dtype=np.float64), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- ops glue
class FakeCudaExt:
    """The CUDA half of atlas_kernel._lens_ext backed by the emulated kernels.

    "Device" memory is host memory held here by address, so ops.py's CUDA code path
    (DeviceArray, uploads, downloads, pointer passing) runs end to end without a GPU.
    """

    def __init__(self, lib: ctypes.CDLL, real: object) -> None:
        self.lib, self.real, self.mem = lib, real, {}

    def __getattr__(self, name: str):  # CPU kernels: the real extension
        return getattr(self.real, name)

    def build_info(self) -> dict:
        return {**self.real.build_info(), "cuda_compiled": True, "cuda_archs": "emulated"}

    def cuda_device_count(self):
        return 1, None

    def cuda_malloc(self, nbytes: int, device: int) -> int:
        buf = np.full(max(1, nbytes // 4), np.nan, np.float32)
        self.mem[buf.ctypes.data] = buf
        return buf.ctypes.data

    def cuda_free(self, p: int, device: int) -> None:
        del self.mem[p]

    def cuda_memcpy_htod(self, dst: int, src: np.ndarray, device: int) -> None:
        ctypes.memmove(dst, src.ctypes.data, src.nbytes)

    def cuda_memcpy_dtoh(self, dst: np.ndarray, src: int, device: int) -> None:
        ctypes.memmove(dst.ctypes.data, src, dst.nbytes)

    def cuda_pointer_device(self, p: int) -> int:
        return 0

    def cuda_synchronize(self, device: int) -> None:
        pass

    def cuda_prepare(self, W1, b1, W2, b2, w3, b3, device):
        keep = [np.ascontiguousarray(a) for a in (W1, b1, W2, b2, w3)]
        d = LensDev(*(ptr(a) for a in keep), b3, W1.shape[1], W1.shape[0], W2.shape[0])
        return d, keep

    def cuda_energy(self, L, x, n, e, stream):
        assert self.lib.atlas_cuda_energy(ctypes.byref(L[0]), x, n, e, 0, None) == 0

    def cuda_energy_grad(self, L, x, n, e, g, stream):
        assert self.lib.atlas_cuda_energy_grad(ctypes.byref(L[0]), x, n, e, g, 0, None) == 0

    def cuda_landscape(self, L, c, a, b, s, t, out, stream):
        assert self.lib.atlas_cuda_landscape(ctypes.byref(L[0]), c, a, b, ptr(s), s.size, ptr(t), t.size, out, 0, None) == 0

    def cuda_pairwise_cosine(self, x, n, d, out, device, stream):
        assert self.lib.atlas_cuda_pairwise_cosine(x, n, d, out, 0, None) == 0


def test_ops_cuda_path_with_emulated_kernels(emu: ctypes.CDLL, monkeypatch: pytest.MonkeyPatch) -> None:
    from atlas_kernel.lens import ops

    if "cpu" not in ops.backends():
        pytest.skip("compiled extension not built")
    fake = FakeCudaExt(emu, ops._ext())
    monkeypatch.setattr(ops, "_ext_state", {"loaded": True, "module": fake, "error": None, "cuda": None})
    assert ops.backends() == ["cpu", "cuda"]
    lens = rand_lens(23, (40, 18), seed=1)
    x = np.random.default_rng(0).standard_normal((21, 23)).astype(np.float32)
    re, rg = reference.energy_grad(x, lens, dtype=np.float64)
    np.testing.assert_allclose(ops.energy(x, lens, backend="cuda"), re, rtol=1e-4, atol=1e-5)
    e, g = ops.energy_grad(x, lens, backend="cuda")
    np.testing.assert_allclose(e, re, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g, rg, rtol=1e-3, atol=1e-5)
    dev = ops.DeviceArray.from_host(x, 0)  # a device input: auto must choose cuda
    out = ops.energy(dev, lens)
    assert isinstance(out, ops.DeviceArray) and out.shape == (21,)
    np.testing.assert_allclose(out.get(), re, rtol=1e-4, atol=1e-5)
    c, a, b = x[0], x[1], x[2]
    s, t = np.linspace(-1, 1, 5), [0.0, 0.5, 2.0]
    grid = ops.landscape(lens, ops.DeviceArray.from_host(c, 0), a, b, s, t)
    np.testing.assert_allclose(grid.get(), reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ops.pairwise_cosine(x, backend="cuda"), reference.pairwise_cosine(x, dtype=np.float64), rtol=1e-4, atol=1e-5)
    del dev, out, grid
    import gc

    gc.collect()
    assert len(fake.mem) == 0, "device buffers leaked"
