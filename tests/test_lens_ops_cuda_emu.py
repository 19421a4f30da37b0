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
from lens_helpers import SAMPLE_IDS, SAMPLES, OpsBackend, Sample, check_sample

from atlas_kernel.lens import Lens, extension, reference

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


class EmuBackend:
    """The emulated kernels called directly (host pointers stand in for device pointers), every
    output in a guarded buffer: one of the backends of the shared sample table."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib

    def energy(self, x: np.ndarray, lens: Lens) -> np.ndarray:
        L, keep = dev_lens(lens)
        e = Guarded((x.shape[0],))
        assert self.lib.atlas_cuda_energy(ctypes.byref(L), ptr(x), x.shape[0], e.ptr, 0, None) == 0
        return e.value()

    def energy_grad(self, x: np.ndarray, lens: Lens) -> tuple[np.ndarray, np.ndarray]:
        L, keep = dev_lens(lens)
        e, g = Guarded((x.shape[0],)), Guarded(x.shape)
        assert self.lib.atlas_cuda_energy_grad(ctypes.byref(L), ptr(x), x.shape[0], e.ptr, g.ptr, 0, None) == 0
        return e.value(), g.value()

    def landscape(self, lens: Lens, c: np.ndarray, a: np.ndarray, b: np.ndarray, s: np.ndarray,
                  t: np.ndarray) -> np.ndarray:
        L, keep = dev_lens(lens)
        out = Guarded((s.size, t.size))
        assert self.lib.atlas_cuda_landscape(ctypes.byref(L), ptr(c), ptr(a), ptr(b), ptr(s), s.size, ptr(t), t.size,
                                             out.ptr, 0, None) == 0
        return out.value()

    def pairwise_cosine(self, x: np.ndarray) -> np.ndarray:
        out = Guarded((x.shape[0], x.shape[0]))
        assert self.lib.atlas_cuda_pairwise_cosine(ptr(x), x.shape[0], x.shape[1], out.ptr, 0, None) == 0
        return out.value()


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_emulated_kernels_match_reference(emu: ctypes.CDLL, sample: Sample) -> None:
    check_sample(EmuBackend(emu), sample)


# ---------------------------------------------------------------------------- ops glue
class EmulatedCudaExt:
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


@pytest.fixture
def emulated_cuda(emu: ctypes.CDLL, monkeypatch: pytest.MonkeyPatch) -> EmulatedCudaExt:
    """lens.ops running its CUDA path on the emulated kernels (CPU kernels stay the real ones)."""
    from atlas_kernel.lens import ops

    if "cpu" not in ops.backends():
        pytest.skip("compiled extension not built")
    fake = EmulatedCudaExt(emu, extension.module())
    monkeypatch.setattr(extension, "STATE", extension.ExtensionState.with_module(fake))
    assert ops.backends() == ["cpu", "cuda"]
    return fake


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_ops_cuda_path_matches_reference(emulated_cuda: EmulatedCudaExt, sample: Sample) -> None:
    """NumPy in, backend="cuda": upload, emulated kernels, download, through ops' own code."""
    check_sample(OpsBackend("cuda"), sample)
    import gc

    gc.collect()
    assert len(emulated_cuda.mem) == 0, "device buffers leaked"


def test_ops_device_inputs_stay_on_device(emulated_cuda: EmulatedCudaExt) -> None:
    from atlas_kernel.lens import ops

    sample = SAMPLES[3]
    lens, x = sample.lens(), sample.x()
    re = reference.energy(x, lens, dtype=np.float64)
    dev = ops.DeviceArray.from_host(x, 0)  # a device input: auto must choose cuda
    out = ops.energy(dev, lens)
    assert isinstance(out, ops.DeviceArray) and out.shape == (x.shape[0],)
    np.testing.assert_allclose(out.get(), re, rtol=1e-4, atol=1e-5)
    c, a, b, s, t = sample.plane()
    grid = ops.landscape(lens, ops.DeviceArray.from_host(c, 0), a, b, s, t)  # a, b uploaded to match
    assert isinstance(grid, ops.DeviceArray)
    np.testing.assert_allclose(grid.get(), reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64),
                               rtol=1e-4, atol=1e-5)
    del dev, out, grid
    import gc

    gc.collect()
    assert len(emulated_cuda.mem) == 0, "device buffers leaked"
