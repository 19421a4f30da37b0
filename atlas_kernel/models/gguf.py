"""GGUF files without llama.cpp: the magic check and the header's `general.name`.

Reading the header ourselves keeps `check_gguf` free of llama_cpp (fast, and the backend does
not import the registry), and lets the registry recognise a bundled model however a user names
its file.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from atlas_kernel.errors import ModelLoadError

# GGUF metadata value types (gguf.h): sizes of the fixed-width ones
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def check_gguf(path: Path, *, hint: str = "") -> None:
    """Raise a one-line ModelLoadError unless `path` is a readable GGUF file."""
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist — give a GGUF path, a server URL{hint}")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a directory — give the .gguf file inside it")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ModelLoadError(f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF') — "
                             "convert it with llama.cpp's convert_hf_to_gguf.py or download a .gguf")


def _read_string(fh: BinaryIO) -> bytes:
    (n,) = struct.unpack("<Q", fh.read(8))
    return fh.read(n)


def _skip_value(fh: BinaryIO, vtype: int) -> None:
    if vtype in _FIXED:
        fh.seek(_FIXED[vtype], 1)
    elif vtype == _STRING:
        (n,) = struct.unpack("<Q", fh.read(8))
        fh.seek(n, 1)
    elif vtype == _ARRAY:
        etype, count = struct.unpack("<IQ", fh.read(12))
        if etype in _FIXED:
            fh.seek(_FIXED[etype] * count, 1)
        else:
            for _ in range(count):
                _skip_value(fh, etype)
    else:
        raise ValueError(f"unknown GGUF value type {vtype}")


def general_name(path: Path, *, max_keys: int = 64) -> str | None:
    """The header's `general.name`, or None (not a GGUF v2/v3 file, or the key is absent).

    Only the first `max_keys` metadata entries are read: writers put general.* first, and the
    tokenizer arrays further on are large."""
    try:
        with Path(path).open("rb") as fh:
            if fh.read(4) != b"GGUF":
                return None
            version, _n_tensors, n_kv = struct.unpack("<IQQ", fh.read(20))
            if version < 2:
                return None
            for _ in range(min(n_kv, max_keys)):
                key = _read_string(fh)
                (vtype,) = struct.unpack("<I", fh.read(4))
                if key == b"general.name" and vtype == _STRING:
                    return _read_string(fh).decode("utf-8", "replace")
                _skip_value(fh, vtype)
    except (OSError, struct.error, ValueError):
        return None
    return None
