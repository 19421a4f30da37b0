"""atlas_kernel: a small, frozen, local language model solving programming problems through an
inference-time pipeline (generate -> select -> repair) that a person can watch and measure.

Layers (each its own subpackage): problems (what a solver may see) and grading (hidden tests),
models (llama.cpp in-process, OpenAI-compatible HTTP), sandbox (running untrusted code),
pipeline (phases), lens (energy model and compiled kernels), cli / magic / widgets (front ends).

Importing this package is cheap: llama_cpp, torch, the compiled extension and ipywidgets load
only when first used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_problem", "load_suite", "load_ipython_extension"]


def load_model(spec: str | None = None, **kwargs: Any):
    from atlas_kernel.models.registry import load_model as _load

    return _load(spec, **kwargs)


def load_problem(spec: Any):
    from atlas_kernel.problems import load_problem as _load

    return _load(spec)


def load_suite(spec: str, **kwargs: Any):
    from atlas_kernel.problems import load_suite as _load

    return _load(spec, **kwargs)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext atlas_kernel`: registers the %atlas_solve magics."""
    from atlas_kernel.magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from atlas_kernel.magic import unload_ipython_extension as _unload

    _unload(ipython)
