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

Where things live: loading the extension and choosing a backend in
:mod:`atlas_kernel.lens.extension`, array interop in :mod:`atlas_kernel.lens.arrays`, the
operations (and the per-lens caches of packed / device weights) here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from atlas_kernel.lens import extension, reference
from atlas_kernel.lens.arrays import (
    F32,
    DeviceArray,
    DeviceInput,
    coords,
    dlpack_to_known,
    on_device,
    rows2d,
    to_host,
)
from atlas_kernel.lens.extension import (
    BUILD_COMMAND,
    BackendUnavailableError,
    backend_info,
    backends,
    get_num_threads,
    set_num_threads,
)

if TYPE_CHECKING:
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
    "DeviceArray",
]


# ---------------------------------------------------------------------------- lens caches
def _packed(lens: Lens) -> Any:
    """CPU-packed weights of ``lens`` (built once, dropped when weights change)."""
    cache = lens.kernel_cache
    cap = cache.get("cpu")
    if cap is None:
        w = lens.weights()
        cap = extension.module().prepare(w["W1"], w["b1"], w["W2"], w["b2"], w["w3"], float(w["b3"]))
        cache["cpu"] = cap
    return cap


def _device_lens(lens: Lens, device: int) -> Any:
    """Device copy of ``lens`` on ``device`` (uploaded once per device)."""
    key = ("cuda", device)
    cache = lens.kernel_cache
    cap = cache.get(key)
    if cap is None:
        w = lens.weights()
        cap = extension.module().cuda_prepare(w["W1"], w["b1"], w["W2"], w["b2"], w["w3"], float(w["b3"]), device)
        cache[key] = cap
    return cap


# ---------------------------------------------------------------------------- runner
def _run(
    x: Any,
    lens: Lens | None,
    backend: str,
    model_id: str | None,
    host_fn: Callable[[np.ndarray, str], Any],
    cuda_fn: Callable[[DeviceInput], Any],
) -> Any:
    """Common path: classify the input, pick the backend, move data as needed."""
    on_dev = on_device(x)
    be = extension.plan(backend, on_dev)
    if on_dev:
        dev = DeviceInput(dlpack_to_known(x))
        if lens is not None:
            lens.check_shape(dev.shape, model_id)
        if be == "cuda":
            return cuda_fn(dev)
        res = host_fn(dev.to_host(), be)
        return tuple(dev.from_host(r) for r in res) if isinstance(res, tuple) else dev.from_host(res)
    xh = to_host(x)
    if lens is not None:
        lens.check_shape(xh.shape, model_id)
    if be == "cuda":  # host input, explicit cuda: upload, run, download
        device = int(os.environ.get("ATLAS_CUDA_DEVICE", "0"))
        res = cuda_fn(DeviceInput(DeviceArray.from_host(xh, device)))
        return tuple(r.get() for r in res) if isinstance(res, tuple) else res.get()
    return host_fn(xh, be)


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
        and x.dtype == F32
        and model_id is None
        and x.flags.c_contiguous
        and extension.STATE.module is not None
    ):
        if x.shape[1] != lens.dim:
            lens.check_shape(x.shape, None)
        out = np.empty(x.shape[0], dtype=F32)
        extension.STATE.module.energy(_packed(lens), x, out)
        return out

    def host_fn(xh: np.ndarray, be: str) -> np.ndarray:
        X = rows2d(xh)
        if be == "reference":
            return reference.energy(X, lens)
        out = np.empty(X.shape[0], dtype=F32)
        extension.module().energy(_packed(lens), X, out)
        return out

    def cuda_fn(dev: DeviceInput) -> Any:
        n = dev.shape[0] if len(dev.shape) == 2 else 1
        out, ptr = dev.empty((n,))
        extension.module().cuda_energy(_device_lens(lens, dev.device), dev.ptr, n, ptr, dev.stream)
        return out

    return _run(x, lens, backend, model_id, host_fn, cuda_fn)


def energy_grad(x: Any, lens: Lens, backend: str = "auto", *, model_id: str | None = None) -> tuple[Any, Any]:
    """(energies (N,), gradients d e_i / d x_i (N, D)), both float32.

    Same input rules as :func:`energy`; a (D,) input gives shapes (1,) and (1, D).
    """

    def host_fn(xh: np.ndarray, be: str) -> tuple[np.ndarray, np.ndarray]:
        X = rows2d(xh)
        if be == "reference":
            return reference.energy_grad(X, lens)
        e = np.empty(X.shape[0], dtype=F32)
        g = np.empty(X.shape, dtype=F32)
        extension.module().energy_grad(_packed(lens), X, e, g)
        return e, g

    def cuda_fn(dev: DeviceInput) -> tuple[Any, Any]:
        n = dev.shape[0] if len(dev.shape) == 2 else 1
        e, eptr = dev.empty((n,))
        g, gptr = dev.empty((n, lens.dim))
        extension.module().cuda_energy_grad(_device_lens(lens, dev.device), dev.ptr, n, eptr, gptr, dev.stream)
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
    sv, tv = coords(s), coords(t)
    for name, v in (("center", center), ("a", a), ("b", b)):
        lens.check_shape(tuple(v.shape) if hasattr(v, "shape") else np.shape(v), model_id)
        if (len(v.shape) if hasattr(v, "shape") else np.ndim(v)) != 1:
            raise ValueError(f"{name} must be a single (D,) vector")

    def host_fn(ch: np.ndarray, be: str) -> np.ndarray:
        ah, bh = to_host(a).reshape(-1), to_host(b).reshape(-1)
        if be == "reference":
            return reference.landscape(lens, ch, ah, bh, sv, tv)
        out = np.empty((sv.size, tv.size), dtype=F32)
        extension.module().landscape(_packed(lens), ch.reshape(-1), ah, bh, sv, tv, out)
        return out

    def cuda_fn(dev: DeviceInput) -> Any:
        # a and b must be device arrays on the same device; move them if they are not.
        ad, bd = (DeviceInput(dlpack_to_known(v)) if on_device(v) else DeviceInput(DeviceArray.from_host(to_host(v), dev.device)) for v in (a, b))
        if ad.device != dev.device or bd.device != dev.device:
            raise ValueError("center, a and b must be on the same CUDA device")
        out, ptr = dev.empty((sv.size, tv.size))
        extension.module().cuda_landscape(_device_lens(lens, dev.device), dev.ptr, ad.ptr, bd.ptr, sv, tv, ptr, dev.stream)
        if ad.kind == "ours" or bd.kind == "ours":  # temporary uploads: wait before freeing
            extension.module().cuda_synchronize(dev.device)
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
        out = np.empty((xh.shape[0], xh.shape[0]), dtype=F32)
        extension.module().pairwise_cosine(xh, out)
        return out

    def cuda_fn(dev: DeviceInput) -> Any:
        if len(dev.shape) != 2:
            raise ValueError(f"pairwise_cosine expects (N, D), got shape {dev.shape}")
        n, d = dev.shape
        out, ptr = dev.empty((n, n))
        extension.module().cuda_pairwise_cosine(dev.ptr, n, d, ptr, dev.device, dev.stream)
        return out

    return _run(x, None, backend, None, host_fn, cuda_fn)
