"""Array interop for the Lens kernels: NumPy, torch, CuPy, ``__cuda_array_interface__`` and
``__dlpack__`` inputs, seen as a float32 C-contiguous host array (:func:`to_host`) or a device
pointer on the caller's stream (:class:`DeviceInput`), and results made like the input.

torch and CuPy are imported only when such an input arrives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas_kernel.lens import extension

__all__ = ["F32", "DeviceArray", "DeviceInput", "is_torch", "is_cupy", "on_device", "dlpack_to_known", "to_host",
           "coords", "rows2d"]

F32 = np.dtype(np.float32)


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


def is_cupy(x: Any) -> bool:
    return type(x).__module__.startswith("cupy") and hasattr(x, "__cuda_array_interface__")


class DeviceArray:
    """Minimal owned float32 CUDA buffer, returned for generic CUDA-array inputs.

    Exposes ``__cuda_array_interface__`` (consumable by torch.as_tensor, cupy.asarray,
    numba), ``shape``, ``dtype`` and :meth:`get` (copy to NumPy).
    """

    def __init__(self, shape: tuple[int, ...], device: int) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dtype = F32
        self.device = int(device)
        n = int(np.prod(self.shape, dtype=np.int64))
        self.ptr = int(extension.module().cuda_malloc(max(1, n) * 4, self.device))

    @classmethod
    def from_host(cls, arr: np.ndarray, device: int) -> "DeviceArray":
        arr = np.ascontiguousarray(arr, dtype=F32)
        out = cls(arr.shape, device)
        if arr.size:
            extension.module().cuda_memcpy_htod(out.ptr, arr, device)
        return out

    def get(self) -> np.ndarray:
        host = np.empty(self.shape, dtype=F32)
        if host.size:
            extension.module().cuda_memcpy_dtoh(host, self.ptr, self.device)
        return host

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.shape, "typestr": "<f4", "data": (self.ptr, False), "version": 3, "strides": None}

    def __del__(self) -> None:
        ptr, self.ptr = getattr(self, "ptr", 0), 0
        if ptr:
            try:
                extension.module().cuda_free(ptr, self.device)
            except Exception:  # noqa: BLE001 - interpreter shutdown / dead context
                pass

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype=float32, device={self.device})"


class DeviceInput:
    """A float32 C-contiguous view of a CUDA input + how to make outputs like it."""

    __slots__ = ("ptr", "shape", "device", "stream", "kind", "keep", "like")

    def __init__(self, x: Any) -> None:
        self.like = x
        if is_torch(x):
            import torch

            t = x.detach()
            if t.dtype != torch.float32:
                t = t.float()
            t = t.contiguous()
            self.kind, self.keep = "torch", t
            self.ptr, self.shape = t.data_ptr(), tuple(t.shape)
            self.device = t.device.index if t.device.index is not None else torch.cuda.current_device()
            self.stream = torch.cuda.current_stream(t.device).cuda_stream
        elif is_cupy(x):
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
            if np.dtype(cai["typestr"]) != F32:
                raise TypeError(f"CUDA array input must be float32, got {cai['typestr']}; convert it first")
            strides = cai.get("strides")
            if strides is not None and tuple(strides) != tuple(
                int(np.prod(shape[i + 1 :], dtype=np.int64)) * 4 for i in range(len(shape))
            ):
                raise TypeError("CUDA array input must be C-contiguous; convert it first")
            self.kind, self.keep = "ours", x
            self.ptr, self.shape = int(cai["data"][0]), shape
            self.device = extension.module().cuda_pointer_device(self.ptr) if self.ptr else 0
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
        extension.module().cuda_synchronize(self.device)  # producer may use a non-blocking stream
        host = np.empty(self.shape, dtype=F32)
        if host.size:
            extension.module().cuda_memcpy_dtoh(host, self.ptr, self.device)
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


def on_device(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return False
    if is_torch(x):
        return bool(x.is_cuda)
    if hasattr(x, "__cuda_array_interface__"):
        return True
    dl = getattr(x, "__dlpack_device__", None)
    if dl is not None:
        return int(dl()[0]) in (2, 13)  # kDLCUDA, kDLCUDAManaged
    return False


def dlpack_to_known(x: Any) -> Any:
    """A CUDA ``__dlpack__`` producer without CAI -> torch tensor or CuPy array."""
    if hasattr(x, "__cuda_array_interface__") or is_torch(x):
        return x
    try:
        import torch

        return torch.from_dlpack(x)
    except ImportError:
        import cupy

        return cupy.from_dlpack(x)


def to_host(x: Any) -> np.ndarray:
    """C-contiguous float32 NumPy array sharing memory with ``x`` when possible."""
    if isinstance(x, np.ndarray):
        if x.dtype == F32 and x.flags.c_contiguous:
            return x
        return np.ascontiguousarray(x, dtype=F32)
    if is_torch(x):
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype != _torch_float32():
            t = t.float()
        return np.ascontiguousarray(t.numpy())  # .numpy() shares memory with t
    if hasattr(x, "__cuda_array_interface__") or on_device(x):
        return DeviceInput(dlpack_to_known(x)).to_host()
    if hasattr(x, "__dlpack__") and not isinstance(x, (list, tuple)):
        try:
            return np.ascontiguousarray(np.from_dlpack(x), dtype=F32)
        except (TypeError, BufferError, RuntimeError):
            pass
    return np.ascontiguousarray(np.asarray(x, dtype=F32))


def _torch_float32() -> Any:
    import torch

    return torch.float32


def coords(v: Any) -> np.ndarray:
    """Grid coordinates s / t as a 1-D host float32 array (they are small)."""
    arr = to_host(v).reshape(-1)
    return np.ascontiguousarray(arr)


def rows2d(xh: np.ndarray) -> np.ndarray:
    """A single (D,) embedding as a (1, D) batch; batches unchanged."""
    return xh.reshape(1, -1) if xh.ndim == 1 else xh
