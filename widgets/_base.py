"""The guarded ipywidgets import every widget module goes through."""

from __future__ import annotations

from typing import Any

from atlas_kernel.errors import MissingDependencyError

_INSTALL = "pip install ipywidgets   (or: pip install 'atlas_kernel[jupyter]')"


def require_ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        raise MissingDependencyError("ipywidgets", "The atlas_kernel notebook widgets", _INSTALL) from None
    return ipywidgets


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where widgets can render), False in a terminal or script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
