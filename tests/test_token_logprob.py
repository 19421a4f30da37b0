"""The per-token log-probability the llama.cpp backend records equals log softmax in float64."""

import numpy as np

from atlas_kernel.models.llama_cpp_backend import token_logprob


def test_token_logprob_matches_a_float64_log_softmax_over_a_qwen_sized_vocabulary():
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(151_936) * 6).astype(np.float32)
    ref = logits.astype(np.float64)
    ref = ref - ref.max() - np.log(np.exp(ref - ref.max()).sum())
    for tok in (0, 17, int(np.argmax(logits)), int(np.argmin(logits))):
        assert abs(token_logprob(logits, tok) - ref[tok]) < 1e-5
    assert token_logprob(logits, int(np.argmax(logits))) <= 0.0
