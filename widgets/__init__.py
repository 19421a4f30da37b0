"""Notebook widgets for atlas_kernel, built only from core ipywidgets (no custom JavaScript).

    from atlas_kernel.widgets import PipelineStepper, CandidateTable, EnergyLandscape, TraceViewer
    PipelineStepper("example:sum_of_list")          # step through the phases, edit, continue
    TraceViewer("run.trace.json")                   # replay a saved trace without the model
    EnergyLandscape(run, model=model)               # energy contours over the candidates' plane

Source directory: widgets/ at the repository root, installed as the subpackage
atlas_kernel.widgets (setuptools package-dir mapping in pyproject.toml).

`atlas_kernel.widgets.plots` (matplotlib figures) needs no ipywidgets; the widget classes import
it lazily and raise an error that names `pip install ipywidgets` when it is missing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["PipelineStepper", "CandidateTable", "EnergyLandscape", "TraceViewer", "SolveProgress", "plots",
           "require_ipywidgets"]

# public name -> submodule holding it; loaded on first access so that importing the package
# (e.g. for plots) never needs ipywidgets
_LAZY = {
    "PipelineStepper": "stepper",
    "CandidateTable": "candidates",
    "EnergyLandscape": "landscape",
    "TraceViewer": "trace_viewer",
    "SolveProgress": "solve_progress",
}


def require_ipywidgets() -> Any:
    """The ipywidgets module, or an AtlasError that says how to install it."""
    from atlas_kernel.widgets._base import require_ipywidgets as _req

    return _req()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name == "plots":
        return import_module(f"{__name__}.plots")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
