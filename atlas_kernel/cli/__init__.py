"""Command-line front end (`atlas`)."""

from __future__ import annotations

from typing import Any, Callable


def extra_commands() -> list[Callable[[Any], None]]:
    """Sub-commands registered by later layers (benchmark harness, ...)."""
    out: list[Callable[[Any], None]] = []
    try:
        from atlas_kernel.cli.bench_cmd import register as bench
    except ImportError:
        return out
    out.append(bench)
    return out
