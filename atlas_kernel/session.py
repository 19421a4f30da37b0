"""Per-process (per-kernel) cache of loaded models, shared by the magic and the widgets.

Loading a GGUF model takes a second or more and holds hundreds of MB, so a notebook that
solves ten problems must load it once: `get_model(spec)` returns the cached instance.
`register_model(name, model)` puts an already built model (a `ScriptedModel` in tests, a
custom backend) under a name that `%atlas_solve --model NAME` and `%config AtlasMagics.model`
can then refer to.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_models: dict[str, Any] = {}


def _key(spec: str | None) -> str:
    # same default resolution as models.registry, so "" / None / the default's name share one instance
    from atlas_kernel.models.registry import DEFAULT_MODEL

    return spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL


def get_model(spec: str | None = None) -> Any:
    """The model for `spec` (a bundled name, a .gguf path, a URL, or a registered name), loaded once."""
    key = _key(spec)
    with _lock:
        model = _models.get(key)
        if model is None:
            from atlas_kernel.models.registry import load_model

            model = load_model(key)
            _models[key] = model
        return model


def register_model(name: str, model: Any) -> None:
    """Make `model` available as `name` (replaces a cached model of that name)."""
    if not name:
        raise ValueError("register_model needs a non-empty name")
    with _lock:
        old = _models.get(name)
        _models[name] = model
    if old is not None and old is not model and hasattr(old, "close"):
        old.close()


def cached_models() -> dict[str, Any]:
    with _lock:
        return dict(_models)


def clear_models() -> None:
    """Forget (and close) every cached model; the next use loads again."""
    with _lock:
        items = list(_models.values())
        _models.clear()
    for m in items:
        if hasattr(m, "close"):
            try:
                m.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


def prompt_style_for(spec: str | None, model: Any) -> str:
    """How to prompt the model under `spec` (chat or raw completion)."""
    from atlas_kernel.models.registry import BUNDLED, prompt_style

    key = _key(spec)
    # a registered test double named like a bundled model would inherit its style; a plain
    # registered name falls back to asking the model itself (chat when it cannot tell)
    return prompt_style(key if key in BUNDLED else getattr(model, "name", key), model)
