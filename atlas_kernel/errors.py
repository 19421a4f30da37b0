"""The user-facing error type: its message is one readable line that names the problem and the fix.

The CLI and the notebook magic print `AtlasError`s as that line (exit code 2 in the CLI)
instead of a traceback.
"""

from __future__ import annotations


class AtlasError(Exception):
    """An error caused by input or environment that the user can fix."""

    exit_code = 2


class ModelLoadError(AtlasError):
    pass


class MissingDependencyError(AtlasError, ImportError):
    def __init__(self, package: str, purpose: str, install: str | None = None):
        install = install or f"pip install {package}"
        super().__init__(f"{purpose} needs the package {package!r}, which is not installed — run: {install}")
        self.package = package
