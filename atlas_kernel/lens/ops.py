"""Lens operations on the compiled kernels (``atlas_kernel._lens_ext``).

Stable API::

    backends() -> list[str]                       # [] / ["cpu"] / ["cpu", "cuda"]
    energy(x, lens, backend="auto") -> (N,)
    energy_grad(x, lens, backend="auto") -> ((N,), (N, D))
    landscape(lens, center, a, b, s, t, backend="auto") -> (S, T)
    pairwise_cosine(x, backend="auto") -> (N, N)
    reference                                     # NumPy oracle, same signatures

Inputs. ``x`` is (N, D) or a single embedding (D,) (treated as N = 1). Accepted:
NumPy arrays, lists, torch tensors and CuPy arrays, plus any object exposing
``__cuda_array_interface__`` (float32, C-contiguous) or ``__dlpack__``.

* Host data (NumPy, CPU torch tensors) reaches the kernels without a copy when it is
  already C-contiguous float32 (torch via ``.numpy()``, which shares memory).
* CUDA torch tensors / CuPy arrays go to the CUDA kernels by device pointer, on the
  caller's current stream (torch: ``torch.cuda.current_stream()``, CuPy:
  ``cupy.cuda.get_current_stream()``), without host round trips; the result is a
  tensor / array of the same library on the same device.
* float32 is the compute type. Other dtypes (float64, float16, bfloat16, ints) are
  converted to float32 first (one copy); results are always float32.
* Results for host input are NumPy float32 arrays.

Backends. ``backend="auto"`` picks ``cuda`` for device inputs and ``cpu`` for host
inputs; if the compiled extension is missing it falls back to :mod:`reference` with
a one-time warning. ``"cpu"`` / ``"cuda"`` insist and raise
:class:`BackendUnavailableError` naming the reason (extension not built, CUDA not
compiled at build time, no usable device). ``"reference"`` always runs NumPy. Device
inputs with ``backend="cpu"`` are copied to the host and the result copied back (same
array type as the input); host inputs with ``backend="cuda"`` are uploaded to device
0 (``ATLAS_CUDA_DEVICE``) and the result returned as NumPy.

Importing this module loads neither torch nor the extension; both load on first use.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Callable

import numpy as np

from atlas_kernel.lens import reference
from atlas_kernel.lens.model import Lens

__all__ = [
    "BackendUnavailableError",
    "backends",
    "backend_info",
    "energy",
    "energy_grad",
    "landscape",
    "pairwise_cosine",
    "get_num_threads",
    "set_num_threads",
    "reference",
    "BUILD_COMMAND",
]

BUILD_COMMAND = "pip install -e . --no-build-isolation   (or: python setup.py build_ext --inplace)"
_F32 = np.dtype(np.float32)
_BACKENDS = ("auto", "cpu", "cuda", "reference")


class BackendUnavailableError(RuntimeError):
    """A requested backend cannot run here; the message says why and what to do."""


# ---------------------------------------------------------------------------- extension
_ext_lock = threading.Lock()
_ext_state: dict[str, Any] = {"loaded": False, "module": None, "error": None, "cuda": None}
_warned: set[str] = set()


def _ext() -> Any:
    """The compiled module, or None (import attempted once, lazily)."""
    if not _ext_state["loaded"]:
        with _ext_lock:
            if not _ext_state["loaded"]:
                try:
                    from atlas_kernel import _lens_ext  # type: ignore[attr-defined]

                    _ext_state["module"] = _lens_ext
                except ImportError as exc:
                    _ext_state["error"] = exc
                _ext_state["loaded"] = True
    return _ext_state["module"]


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _cuda_state() -> tuple[bool, str]:
    """(usable, reason). Asked once per process: compiled? device present?"""
    state = _ext_state["cuda"]
    if state is None:
        ext = _ext()
        if ext is None:
            state = (False, f"the compiled extension is missing ({_ext_state['error']})")
        else:
            info = ext.build_info()
            if not info["cuda_compiled"]:
                state = (False, f"CUDA kernels {info['cuda_note']}")
            else:
                count, err = ext.cuda_device_count()
                if count > 0:
                    state = (True, f"{count} CUDA device(s); kernels for {info['cuda_archs']}")
                else:
                    why = err or "cudaGetDeviceCount() found no device"
                    state = (False, f"CUDA kernels are compiled but no CUDA device is usable: {why}")
        _ext_state["cuda"] = state
    return state


def backends() -> list[str]:
    """Compiled backends usable in this process: ``["cpu"]`` or ``["cpu", "cuda"]``.

    ``[]`` when the extension is not built (the ``reference`` fallback always exists).
    "cuda" is listed only when the CUDA kernels were compiled AND a device answers.
    """
    if _ext() is None:
        return []
    return ["cpu", "cuda"] if _cuda_state()[0] else ["cpu"]


def backend_info() -> dict[str, Any]:
    """Human-readable status of every backend (for diagnostics)."""
    ext = _ext()
    if ext is None:
        cpu = f"unavailable: {_ext_state['error']}; build with: {BUILD_COMMAND}"
        return {"cpu": cpu, "cuda": cpu, "reference": "numpy", "build": None}
    info = dict(ext.build_info())
    return {
        "cpu": f"{ext.simd()} kernels, {ext.get_num_threads()} thread(s) (builds: {info['cpu_builds']})",
        "cuda": _cuda_state()[1],
        "reference": "numpy",
        "build": info,
    }


def get_num_threads() -> int:
    """Threads used by the CPU kernels (ATLAS_NUM_THREADS or the CPUs available)."""
    ext = _ext()
    return ext.get_num_threads() if ext is not None else 1


def set_num_threads(n: int) -> None:
    """Set the CPU kernels' thread count (n <= 0 restores the default)."""
    ext = _require_cpu()
    ext.set_num_threads(int(n))


def _require_cpu() -> Any:
    ext = _ext()
    if ext is None:
        raise BackendUnavailableError(
            "backend='cpu' needs the compiled extension atlas_kernel._lens_ext, which could not "
            f"be imported ({_ext_state['error']}). Build it with: {BUILD_COMMAND}"
        )
    return ext


def _require_cuda() -> Any:
    ext = _ext()
    if ext is None:
        raise BackendUnavailableError(
            "backend='cuda' needs the compiled extension atlas_kernel._lens_ext, which could not "
            f"be imported ({_ext_state['error']}). Build it (with nvcc available) with: {BUILD_COMMAND}"
        )
    ok, why = _cuda_state()
    if not ok:
        raise BackendUnavailableError(f"backend='cuda' is not available: {why}")
    return ext


def _plan(backend: str, on_device: bool) -> str:
    """Resolve ``backend`` to one of "cpu", "cuda", "reference"."""
    if backend == "auto":
        if on_device:
            if _ext() is not None and _cuda_state()[0]:
                return "cuda"
            _warn_once(
                "device-fallback",
                f"atlas_kernel.lens: CUDA input but the CUDA backend is unavailable "
                f"({_cuda_state()[1]}); computing on the host (results are copied back).",
            )
        if _ext() is not None:
            return "cpu"
        _warn_once(
            "no-ext",
            f"atlas_kernel.lens: compiled kernels not available ({_ext_state['error']}); "
            f"using the slow NumPy reference. Build them with: {BUILD_COMMAND}",
        )
        return "reference"
    if backend == "cpu":
        _require_cpu()
        return "cpu"
    if backend == "cuda":
        _require_cuda()
        return "cuda"
    if backend == "reference":
        return "reference"
    raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")


# ---------------------------------------------------------------------------- lens caches
def _packed(lens: Lens) -> Any:
    """CPU-packed weights of ``lens`` (built once, dropped when weights change)."""
    cache = lens._kernel_cache
    cap = cache.get("cpu")
    if cap is None:
        w = lens.weights()
        cap = _ext().prepare(w["W1"], w["b1"], w["W2"], w["b2"], w["w3"], float(w["b3"]))
        cache["cpu"] = cap
    return cap


def _device_lens(lens: Lens, device: int) -> Any:
    """Device copy of ``lens`` on ``device`` (uploaded once per device)."""
    key = ("cuda", device)
    cache = lens._kernel_cache
    cap = cache.get(key)
    if cap is None:
        w = lens.weights()
        cap = _ext().cuda_prepare(w["W1"], w["b1"], w["W2"], w["b2"], w["w3"], float(w["b3"]), device)
        cache[key] = cap
    return cap


# ---------------------------------------------------------------------------- inputs
def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


def _is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy") and hasattr(x, "__cuda_array_interface__")


class DeviceArray:
    """Minimal owned float32 CUDA buffer, returned for generic CUDA-array inputs.

    Exposes ``__cuda_array_interface__`` (consumable by torch.as_tensor, cupy.asarray,
    numba), ``shape``, ``dtype`` and :meth:`get` (copy to NumPy).
    """

    def __init__(self, shape: tuple[int, ...], device: int) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = _F32
        self.device = int(device)
        n = int(np.prod(self.shape, dtype=np.int64))
        self.ptr = int(_ext().cuda_malloc(max(1, n) * 4, self.device))

    @classmethod
    def from_host(cls, arr: np.ndarray, device: int) -> "DeviceArray":
        arr = np.ascontiguousarray(arr, dtype=_F32)
        out = cls(arr.shape, device)
        if arr.size:
            _ext().cuda_memcpy_htod(out.ptr, arr, device)
        return out

    def get(self) -> np.ndarray:
        host = np.empty(self.shape, dtype=_F32)
        if host.size:
            _ext().cuda_memcpy_dtoh(host, self.ptr, self.device)
        return host

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.shape, "typestr": "<f4", "data": (self.ptr, False), "version": 3, "strides": None}

    def __del__(self) -> None:
        ptr, self.ptr = getattr(self, "ptr", 0), 0
        if ptr:
            try:
                _ext().cuda_free(ptr, self.device)
            except Exception:  # noqa: BLE001 - interpreter shutdown / dead context
                pass

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype=float32, device={self.device})"


class _Dev:
    """A float32 C-contiguous view of a CUDA input + how to make outputs like it."""

    __slots__ = ("ptr", "shape", "device", "stream", "kind", "keep", "like")

    def __init__(self, x: Any) -> None:
        self.like = x
        if _is_torch(x):
            import torch

            t = x.detach()
            if t.dtype != torch.float32:
                t = t.float()
            t = t.contiguous()
            self.kind, self.keep = "torch", t
            self.ptr, self.shape = t.data_ptr(), tuple(t.shape)
            self.device = t.device.index if t.device.index is not None else torch.cuda.current_device()
            self.stream = torch.cuda.current_stream(t.device).cuda_stream
        elif _is_cupy(x):
            import cupy

            with cupy.cuda.Device(x.device.id):
                c = cupy.ascontiguousarray(x, dtype=cupy.float32)
                self.stream = cupy.cuda.get_current_stream().ptr
            self.kind, self.keep = "cupy", c
            self.ptr, self.shape, self.device = c.data.ptr, tuple(c.shape), c.device.id
        elif isinstance(x, DeviceArray):
            self.kind, self.keep = "ours", x
            self.ptr, self.shape, self.device, self.stream = x.ptr, x.shape, x.device, 0
        else:  # generic __cuda_array_interface__ producer (numba, ...)
            cai = x.__cuda_array_interface__
            shape = tuple(cai["shape"])
            if np.dtype(cai["typestr"]) != _F32:
                raise TypeError(f"CUDA array input must be float32, got {cai['typestr']}; convert it first")
            strides = cai.get("strides")
            if strides is not None and tuple(strides) != tuple(
                int(np.prod(shape[i + 1 :], dtype=np.int64)) * 4 for i in range(len(shape))
            ):
                raise TypeError("CUDA array input must be C-contiguous; convert it first")
            self.kind, self.keep = "ours", x
            self.ptr, self.shape = int(cai["data"][0]), shape
            self.device = _ext().cuda_pointer_device(self.ptr) if self.ptr else 0
            stream = cai.get("stream")
            self.stream = int(stream) if stream else 0

    def empty(self, shape: tuple[int, ...]) -> tuple[Any, int]:
        """(array, device pointer) of a new float32 array like the input."""
        if self.kind == "torch":
            import torch

            t = torch.empty(shape, dtype=torch.float32, device=self.keep.device)
            return t, t.data_ptr()
        if self.kind == "cupy":
            import cupy

            with cupy.cuda.Device(self.device):
                c = cupy.empty(shape, dtype=cupy.float32)
            return c, c.data.ptr
        d = DeviceArray(shape, self.device)
        return d, d.ptr

    def to_host(self) -> np.ndarray:
        if self.kind == "torch":
            return self.keep.cpu().numpy()
        if self.kind == "cupy":
            return self.keep.get()
        if isinstance(self.keep, DeviceArray):
            return self.keep.get()
        _ext().cuda_synchronize(self.device)  # producer may use a non-blocking stream
        host = np.empty(self.shape, dtype=_F32)
        if host.size:
            _ext().cuda_memcpy_dtoh(host, self.ptr, self.device)
        return host

    def from_host(self, arr: np.ndarray) -> Any:
        """Copy a host result back to the input's library / device."""
        if self.kind == "torch":
            import torch

            return torch.from_numpy(np.ascontiguousarray(arr)).to(self.keep.device)
        if self.kind == "cupy":
            import cupy

            with cupy.cuda.Device(self.device):
                return cupy.asarray(arr)
        return DeviceArray.from_host(arr, self.device)


def _on_device(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return False
    if _is_torch(x):
        return bool(x.is_cuda)
    if hasattr(x, "__cuda_array_interface__"):
        return True
    dl = getattr(x, "__dlpack_device__", None)
    if dl is not None:
        return int(dl()[0]) in (2, 13)  # kDLCUDA, kDLCUDAManaged
    return False


def _dlpack_to_known(x: Any) -> Any:
    """A CUDA ``__dlpack__`` producer without CAI -> torch tensor or CuPy array."""
    if hasattr(x, "__cuda_array_interface__") or _is_torch(x):
        return x
    try:
        import torch

        return torch.from_dlpack(x)
    except ImportError:
        import cupy

        return cupy.from_dlpack(x)


def _host(x: Any) -> np.ndarray:
    """C-contiguous float32 NumPy array sharing memory with ``x`` when possible."""
    if isinstance(x, np.ndarray):
        if x.dtype == _F32 and x.flags.c_contiguous:
            return x
        return np.ascontiguousarray(x, dtype=_F32)
    if _is_torch(x):
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype != _torch_f32():
            t = t.float()
        return np.ascontiguousarray(t.numpy())  # .numpy() shares memory with t
    if hasattr(x, "__cuda_array_interface__") or _on_device(x):
        return _Dev(_dlpack_to_known(x)).to_host()
    if hasattr(x, "__dlpack__") and not isinstance(x, (list, tuple)):
        try:
            return np.ascontiguousarray(np.from_dlpack(x), dtype=_F32)
        except (TypeError, BufferError, RuntimeError):
            pass
    return np.ascontiguousarray(np.asarray(x, dtype=_F32))


def _torch_f32() -> Any:
    import torch

    return torch.float32


def _coords(v: Any) -> np.ndarray:
    """Grid coordinates s / t as a 1-D host float32 array (they are small)."""
    arr = _host(v).reshape(-1)
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------- runner
def _run(
    x: Any,
    lens: Lens | None,
    backend: str,
    model_id: str | None,
    host_fn: Callable[[np.ndarray, str], Any],
    cuda_fn: Callable[[_Dev], Any],
) -> Any:
    """Common path: classify the input, pick the backend, move data as needed."""
    on_dev = _on_device(x)
    be = _plan(backend, on_dev)
    if on_dev:
        dev = _Dev(_dlpack_to_known(x))
        if lens is not None:
            lens._check_shape(dev.shape, model_id)
        if be == "cuda":
            return cuda_fn(dev)
        res = host_fn(dev.to_host(), be)
        return tuple(dev.from_host(r) for r in res) if isinstance(res, tuple) else dev.from_host(res)
    xh = _host(x)
    if lens is not None:
        lens._check_shape(xh.shape, model_id)
    if be == "cuda":  # host input, explicit cuda: upload, run, download
        device = int(os.environ.get("ATLAS_CUDA_DEVICE", "0"))
        res = cuda_fn(_Dev(DeviceArray.from_host(xh, device)))
        return tuple(r.get() for r in res) if isinstance(res, tuple) else res.get()
    return host_fn(xh, be)


def _rows2d(xh: np.ndarray) -> np.ndarray:
    return xh.reshape(1, -1) if xh.ndim == 1 else xh


# ---------------------------------------------------------------------------- public ops
def energy(x: Any, lens: Lens, backend: str = "auto", *, model_id: str | None = None) -> Any:
    """Lens energies of embeddings ``x`` (N, D) -> (N,) float32; (D,) -> (1,).

    Host input -> NumPy result; CUDA input -> same array type on the same device.
    ``model_id`` (optional) names the LLM that produced ``x``; a lens trained for a
    different model (or dimension) raises ``ValueError``. No autograd: use
    :func:`energy_grad` or ``lens.to_torch()`` for gradients.
    """
    # Fast path (the common case, kept to a handful of checks for small-N latency).
    if (
        type(x) is np.ndarray
        and backend == "auto"
        and x.ndim == 2
        and x.dtype == _F32
        and model_id is None
        and x.flags.c_contiguous
        and _ext_state["module"] is not None
    ):
        if x.shape[1] != lens.dim:
            lens._check_shape(x.shape, None)
        out = np.empty(x.shape[0], dtype=_F32)
        _ext_state["module"].energy(_packed(lens), x, out)
        return out

    def host_fn(xh: np.ndarray, be: str) -> np.ndarray:
        X = _rows2d(xh)
        if be == "reference":
            return reference.energy(X, lens)
        out = np.empty(X.shape[0], dtype=_F32)
        _ext().energy(_packed(lens), X, out)
        return out

    def cuda_fn(dev: _Dev) -> Any:
        n = dev.shape[0] if len(dev.shape) == 2 else 1
        out, ptr = dev.empty((n,))
        _ext().cuda_energy(_device_lens(lens, dev.device), dev.ptr, n, ptr, dev.stream)
        return out

    return _run(x, lens, backend, model_id, host_fn, cuda_fn)


def energy_grad(x: Any, lens: Lens, backend: str = "auto", *, model_id: str | None = None) -> tuple[Any, Any]:
    """(energies (N,), gradients d e_i / d x_i (N, D)), both float32.

    Same input rules as :func:`energy`; a (D,) input gives shapes (1,) and (1, D).
    """

    def host_fn(xh: np.ndarray, be: str) -> tuple[np.ndarray, np.ndarray]:
        X = _rows2d(xh)
        if be == "reference":
            return reference.energy_grad(X, lens)
        e = np.empty(X.shape[0], dtype=_F32)
        g = np.empty(X.shape, dtype=_F32)
        _ext().energy_grad(_packed(lens), X, e, g)
        return e, g

    def cuda_fn(dev: _Dev) -> tuple[Any, Any]:
        n = dev.shape[0] if len(dev.shape) == 2 else 1
        e, eptr = dev.empty((n,))
        g, gptr = dev.empty((n, lens.dim))
        _ext().cuda_energy_grad(_device_lens(lens, dev.device), dev.ptr, n, eptr, gptr, dev.stream)
        return e, g

    return _run(x, lens, backend, model_id, host_fn, cuda_fn)


def landscape(
    lens: Lens,
    center: Any,
    a: Any,
    b: Any,
    s: Any,
    t: Any,
    backend: str = "auto",
    *,
    model_id: str | None = None,
) -> Any:
    """Energies (S, T) over the plane ``x = center + s[i] * a + t[j] * b``.

    ``center``, ``a``, ``b`` are (D,) vectors (host or CUDA; the device of ``center``
    decides where it runs - ``a``/``b`` are moved to match); ``s`` (S,) and ``t``
    (T,) are coordinate arrays (copied to the host, they are small). The kernels lift
    the plane once (u = W1 c + b1, p = W1 a, q = W1 b) so a grid point costs
    O(H1 H2), not O(D H1). ``a`` and ``b`` are used as given (not normalised).
    """
    sv, tv = _coords(s), _coords(t)
    for name, v in (("center", center), ("a", a), ("b", b)):
        lens._check_shape(tuple(v.shape) if hasattr(v, "shape") else np.shape(v), model_id)
        if (len(v.shape) if hasattr(v, "shape") else np.ndim(v)) != 1:
            raise ValueError(f"{name} must be a single (D,) vector")

    def host_fn(ch: np.ndarray, be: str) -> np.ndarray:
        ah, bh = _host(a).reshape(-1), _host(b).reshape(-1)
        if be == "reference":
            return reference.landscape(lens, ch, ah, bh, sv, tv)
        out = np.empty((sv.size, tv.size), dtype=_F32)
        _ext().landscape(_packed(lens), ch.reshape(-1), ah, bh, sv, tv, out)
        return out

    def cuda_fn(dev: _Dev) -> Any:
        # a and b must be device arrays on the same device; move them if they are not.
        ad, bd = (_Dev(_dlpack_to_known(v)) if _on_device(v) else _Dev(DeviceArray.from_host(_host(v), dev.device)) for v in (a, b))
        if ad.device != dev.device or bd.device != dev.device:
            raise ValueError("center, a and b must be on the same CUDA device")
        out, ptr = dev.empty((sv.size, tv.size))
        _ext().cuda_landscape(_device_lens(lens, dev.device), dev.ptr, ad.ptr, bd.ptr, sv, tv, ptr, dev.stream)
        if ad.kind == "ours" or bd.kind == "ours":  # temporary uploads: wait before freeing
            _ext().cuda_synchronize(dev.device)
        return out

    return _run(center, None, backend, model_id, host_fn, cuda_fn)


def pairwise_cosine(x: Any, backend: str = "auto") -> Any:
    """Cosine distances (N, N) = 1 - cos(x_i, x_j), clipped to [0, 2], zero diagonal.

    Zero vectors have distance 1 to every other vector. Same input rules as
    :func:`energy` (no lens, so any D).
    """

    def host_fn(xh: np.ndarray, be: str) -> np.ndarray:
        if xh.ndim != 2:
            raise ValueError(f"pairwise_cosine expects (N, D), got shape {xh.shape}")
        if be == "reference":
            return reference.pairwise_cosine(xh)
        out = np.empty((xh.shape[0], xh.shape[0]), dtype=_F32)
        _ext().pairwise_cosine(xh, out)
        return out

    def cuda_fn(dev: _Dev) -> Any:
        if len(dev.shape) != 2:
            raise ValueError(f"pairwise_cosine expects (N, D), got shape {dev.shape}")
        n, d = dev.shape
        out, ptr = dev.empty((n, n))
        _ext().cuda_pairwise_cosine(dev.ptr, n, d, ptr, dev.device, dev.stream)
        return out

    return _run(x, None, backend, None, host_fn, cuda_fn)
