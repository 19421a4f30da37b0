"""What identifies the model of a benchmark run, recorded in run.json: the spec, the backend
kind, the file and its sha256 (`model_id`, which --resume compares), and the Lens file the
pipeline will load for it (per session: a Lens shipped between two sessions changes C and E).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError

__all__ = ["file_sha256", "model_fingerprint", "fingerprint", "model_identity", "lens_file"]


def file_sha256(path: str | Path) -> str:
    from atlas_kernel.models.bundled import known_sha256  # the one streamed file hash, or its install stamp

    return known_sha256(Path(path))


def model_fingerprint(spec: str | None) -> dict[str, Any]:
    """A model spec's spec, backend kind, file and the file's sha256."""
    from atlas_kernel.bench.testing_model import PREFIX, is_scripted_spec

    if is_scripted_spec(spec):
        path = str(spec)[len(PREFIX):]
        if not os.path.isfile(path):
            raise AtlasError(f"scripted model file {path} does not exist")
        return {"spec": spec, "kind": "scripted", "target": path, "sha256": file_sha256(path)}
    from atlas_kernel.models.registry import DEFAULT_MODEL, resolve

    kind, target = resolve(spec)
    return {"spec": spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL, "kind": kind, "target": target,
            "sha256": file_sha256(target) if kind == "gguf" else None}


def fingerprint(model: Any) -> dict[str, Any]:
    """`model_fingerprint` of a spec, or what a Model object says about itself."""
    if isinstance(model, (str, type(None))):
        return model_fingerprint(model)
    info = model.info() if hasattr(model, "info") else {}
    return {"spec": getattr(model, "name", type(model).__name__), "kind": "object", "target": info.get("path"),
            "sha256": None, "info": info}


def model_identity(fp: dict[str, Any]) -> dict[str, Any]:
    # a moved model file with the same bytes is the same model; a server is known by its URL
    return {"kind": fp["kind"], "sha256": fp["sha256"]} if fp.get("sha256") else {"kind": fp["kind"], "target": fp.get("target")}


def lens_file(model: Any) -> dict[str, Any] | None:
    """The Lens file the pipeline's Lens hook will load for this model, and its sha256."""
    from atlas_kernel.lens.scoring import lens_path_for
    from atlas_kernel.models.registry import model_name

    if os.environ.get("ATLAS_NO_LENS"):
        return None
    name = model_name(model) if isinstance(model, (str, type(None))) else getattr(model, "name", None)
    path = lens_path_for(name) if name else None
    if path is None:
        return None
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
