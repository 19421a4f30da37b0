"""The one lazy re-export style of the package: a name -> submodule table read by a module-level
``__getattr__`` (PEP 562), so that importing a package imports none of its heavy submodules.

    _EXPORTS = {"Lens": "model", "ops": "ops"}     # public name -> submodule of this package
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

A name equal to its submodule's last component (``"ops": "ops"``) is the submodule itself;
any other name is that submodule's attribute. The value is cached on the package after the
first access. Stdlib only: every package may use it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` serving the names of ``table``."""

    def __getattr__(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(f"{package}.{where}")
        value = module if where.rsplit(".", 1)[-1] == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
