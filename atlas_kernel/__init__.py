"""atlas_kernel: a small, frozen, local language model solving programming problems through an
inference-time pipeline (generate -> select -> repair) that a person can watch and measure.

Layers, top to bottom (tests/test_layering.py enforces them; docs/ARCHITECTURE_lower.md):
front ends (cli, magic, widgets) -> bench -> pipeline | grading -> models | judging | lens
-> sandbox | problems -> errors.

Importing this package is cheap: the names below load their subpackage on first use, and
llama_cpp, torch, the compiled extension and ipywidgets load only when first used.
"""

from __future__ import annotations

from atlas_kernel._lazy import lazy_exports

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_problem", "load_suite", "load_ipython_extension",
           "unload_ipython_extension"]

# public name -> submodule holding it (`%load_ext atlas_kernel` reaches the magic through it)
_EXPORTS = {
    "load_model": "models.registry",
    "load_problem": "problems",
    "load_suite": "problems",
    "load_ipython_extension": "magic",
    "unload_ipython_extension": "magic",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
