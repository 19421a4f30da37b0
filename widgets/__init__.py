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

from atlas_kernel._lazy import lazy_exports

__all__ = ["PipelineStepper", "CandidateTable", "EnergyLandscape", "TraceViewer", "SolveProgress", "plots",
           "require_ipywidgets"]

# public name -> submodule holding it; loaded on first access so that importing the package
# (e.g. for plots) never needs ipywidgets
_EXPORTS = {
    "PipelineStepper": "stepper",
    "CandidateTable": "candidates",
    "EnergyLandscape": "landscape",
    "TraceViewer": "trace_viewer",
    "SolveProgress": "solve_progress",
    "plots": "plots",
    "require_ipywidgets": "_base",  # the ipywidgets module, or an AtlasError saying how to install it
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
