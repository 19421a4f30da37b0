"""The compiled Lens kernels (``atlas_kernel._lens_ext``): loading them once, and which backend
runs a call.

The extension is imported on first use, never at import time. :data:`STATE` holds the outcome
(the module or the import error) and whether CUDA answered; everything here reads it through
the module attribute, so swapping it (``ExtensionState.with_module(...)``, as the CUDA
emulation test does) changes every later call.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUILD_COMMAND",
    "BACKENDS",
    "BackendUnavailableError",
    "ExtensionState",
    "STATE",
    "module",
    "cuda_state",
    "backends",
    "backend_info",
    "get_num_threads",
    "set_num_threads",
    "require_cpu",
    "require_cuda",
    "plan",
]

BUILD_COMMAND = "pip install -e . --no-build-isolation   (or: python setup.py build_ext --inplace)"
BACKENDS = ("auto", "cpu", "cuda", "reference")


class BackendUnavailableError(RuntimeError):
    """A requested backend cannot run here; the message says why and what to do."""


@dataclass
class ExtensionState:
    """What loading the extension gave: the module or the error, and the CUDA answer (asked once)."""

    loaded: bool = False
    module: Any = None
    error: BaseException | None = None
    cuda: tuple[bool, str] | None = None
    warned: set[str] = field(default_factory=set)  # fallback warnings are given once per state

    @classmethod
    def with_module(cls, module: Any) -> "ExtensionState":
        """A state whose extension is ``module`` (the real one, or a stand-in exposing its API)."""
        return cls(loaded=True, module=module)

    @classmethod
    def missing(cls, error: BaseException) -> "ExtensionState":
        """A state in which the extension failed to import with ``error``."""
        return cls(loaded=True, error=error)


STATE = ExtensionState()
_lock = threading.Lock()


def module() -> Any:
    """The compiled module, or None (import attempted once, lazily)."""
    state = STATE
    if not state.loaded:
        with _lock:
            if not state.loaded:
                try:
                    from atlas_kernel import _lens_ext  # type: ignore[attr-defined]

                    state.module = _lens_ext
                except ImportError as exc:
                    state.error = exc
                state.loaded = True
    return state.module


def warn_once(key: str, msg: str) -> None:
    if key not in STATE.warned:
        STATE.warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def cuda_state() -> tuple[bool, str]:
    """(usable, reason). Asked once per state: compiled? device present?"""
    state = STATE
    if state.cuda is None:
        ext = module()
        if ext is None:
            answer = (False, f"the compiled extension is missing ({state.error})")
        else:
            info = ext.build_info()
            if not info["cuda_compiled"]:
                answer = (False, f"CUDA kernels {info['cuda_note']}")
            else:
                count, err = ext.cuda_device_count()
                if count > 0:
                    answer = (True, f"{count} CUDA device(s); kernels for {info['cuda_archs']}")
                else:
                    why = err or "cudaGetDeviceCount() found no device"
                    answer = (False, f"CUDA kernels are compiled but no CUDA device is usable: {why}")
        state.cuda = answer
    return state.cuda


def backends() -> list[str]:
    """Compiled backends usable in this process: ``["cpu"]`` or ``["cpu", "cuda"]``.

    ``[]`` when the extension is not built (the ``reference`` fallback always exists).
    "cuda" is listed only when the CUDA kernels were compiled AND a device answers.
    """
    if module() is None:
        return []
    return ["cpu", "cuda"] if cuda_state()[0] else ["cpu"]


def backend_info() -> dict[str, Any]:
    """Human-readable status of every backend (for diagnostics)."""
    ext = module()
    if ext is None:
        cpu = f"unavailable: {STATE.error}; build with: {BUILD_COMMAND}"
        return {"cpu": cpu, "cuda": cpu, "reference": "numpy", "build": None}
    info = dict(ext.build_info())
    return {
        "cpu": f"{ext.simd()} kernels, {ext.get_num_threads()} thread(s) (builds: {info['cpu_builds']})",
        "cuda": cuda_state()[1],
        "reference": "numpy",
        "build": info,
    }


def get_num_threads() -> int:
    """Threads used by the CPU kernels (ATLAS_NUM_THREADS or the CPUs available)."""
    ext = module()
    return ext.get_num_threads() if ext is not None else 1


def set_num_threads(n: int) -> None:
    """Set the CPU kernels' thread count (n <= 0 restores the default)."""
    require_cpu().set_num_threads(int(n))


def require_cpu() -> Any:
    ext = module()
    if ext is None:
        raise BackendUnavailableError(
            "backend='cpu' needs the compiled extension atlas_kernel._lens_ext, which could not "
            f"be imported ({STATE.error}). Build it with: {BUILD_COMMAND}"
        )
    return ext


def require_cuda() -> Any:
    ext = module()
    if ext is None:
        raise BackendUnavailableError(
            "backend='cuda' needs the compiled extension atlas_kernel._lens_ext, which could not "
            f"be imported ({STATE.error}). Build it (with nvcc available) with: {BUILD_COMMAND}"
        )
    ok, why = cuda_state()
    if not ok:
        raise BackendUnavailableError(f"backend='cuda' is not available: {why}")
    return ext


def plan(backend: str, on_device: bool) -> str:
    """Resolve ``backend`` to one of "cpu", "cuda", "reference" for an input on the host or a device."""
    if backend == "auto":
        if on_device:
            if module() is not None and cuda_state()[0]:
                return "cuda"
            warn_once(
                "device-fallback",
                f"atlas_kernel.lens: CUDA input but the CUDA backend is unavailable "
                f"({cuda_state()[1]}); computing on the host (results are copied back).",
            )
        if module() is not None:
            return "cpu"
        warn_once(
            "no-ext",
            f"atlas_kernel.lens: compiled kernels not available ({STATE.error}); "
            f"using the slow NumPy reference. Build them with: {BUILD_COMMAND}",
        )
        return "reference"
    if backend == "cpu":
        require_cpu()
        return "cpu"
    if backend == "cuda":
        require_cuda()
        return "cuda"
    if backend == "reference":
        return "reference"
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
