"""Speculative decoding and shared prompt prefixes on real models.

llama.cpp's float rounding depends on what one decode carries: a prompt prefill of 64 tokens or
more takes other kernels than a step of a few tokens, and with several sequences in the cache the
attention's reduction length follows the cells in use. A log-probability moves by a few 1e-2 and
a near-tie can flip, with or without drafts (sequences without drafts in a batch with drafted ones
move too). So a single-sequence comparison starts from the same cache state (the prompt evaluated
by an earlier call), where SmolLM2-135M computes the same logits for a step of 1 and of 1 + draft
tokens: drafting must then reproduce plain decoding exactly, texts and log-probabilities. Batches
and prefills of different shapes are compared on texts (code, where the model is confident) and
log-probabilities to within 0.5.
(Qwen2.5-Coder is not exact even for one sequence: its test compares texts.)"""

from pathlib import Path

import pytest

from atlas_kernel.models.base import Sampling, generate_batch
from atlas_kernel.models.drafting import DraftModelError

pytestmark = pytest.mark.real_model


@pytest.fixture(autouse=True)
def _every_draft_sent(smollm2):
    """These tests check what drafting does, so every drafted token is sent (the draft policy
    would send only the drafts it expects to pay, and these counts would depend on its profile)."""
    policy = smollm2.draft_policy
    smollm2.draft_policy = "all"
    yield
    smollm2.draft_policy = policy

QWEN_05 = Path.home() / ".cache/atlas_kernel/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
PROGRAM = '''def running_max(xs):
    """Return the list of running maxima of xs."""
    out = []
    best = None
    for x in xs:
        if best is None or x < best:
            best = x
        out.append(best)
    return out
'''
REPAIR = [{"role": "user", "content": f"This program is wrong:\n```python\n{PROGRAM}```\n"
                                      "It returns running minima. Write the corrected program in one ```python block."}]
OTHER = [{"role": "user", "content": "Write a Python function is_even(n) that returns True when n is even."}]
REPAIR2 = [{"role": "user", "content": "This program is wrong:\n```python\ndef total(xs):\n    s = 1\n    for x in xs:\n"
                                       "        s += x\n    return s\n```\nIt starts from 1. Write the corrected program "
                                       "in one ```python block."}]


def _warm(model, prompts):
    """Leave the prompts' cache state as the compared calls will find it."""
    model.generate_batch(prompts, [Sampling(max_tokens=1)] * len(prompts))


def _same(a, b, exact=True):
    assert a.text == b.text and a.completion_tokens == b.completion_tokens and a.finish_reason == b.finish_reason
    if exact:
        assert a.token_logprobs == b.token_logprobs
    else:
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=0.5)


def test_prompt_lookup_greedy_is_plain_decoding_token_for_token(smollm2):
    s = Sampling(max_tokens=90, logprobs=True, draft="none")
    _warm(smollm2, [REPAIR])
    plain = smollm2.generate(REPAIR, s)
    fast = smollm2.generate(REPAIR, s.with_(draft="prompt_lookup"))
    _same(plain, fast)
    assert plain.drafted_tokens == 0 and fast.drafted_tokens > 10 and fast.accepted_tokens > 10
    assert fast.meta["decode_steps"] < plain.meta["decode_steps"]  # accepted drafts save model calls
    assert fast.acceptance_rate is not None and fast.decode_tokens_per_s > 0


def test_prompt_lookup_in_a_batch_with_mixed_drafting_matches_each_sequence_alone(smollm2):
    s = Sampling(max_tokens=18, logprobs=True, draft="none")  # the code, before the prose where near-ties are
    prompts = [REPAIR, REPAIR2, REPAIR, REPAIR2]
    _warm(smollm2, prompts)
    plain = smollm2.generate_batch(prompts, [s] * 4)
    out = smollm2.generate_batch(prompts, [s.with_(draft="prompt_lookup"), s.with_(draft="prompt_lookup"), s, s])
    for c, a in zip(out, plain):
        _same(c, a, exact=False)
    assert out[1].accepted_tokens > 0
    assert out[0].accepted_tokens > 0 and out[2].drafted_tokens == 0 and out[0].text == out[2].text
    assert smollm2.info()["drafting"]["last_call"]["modes"] == ["none", "prompt_lookup"]


def test_max_tokens_and_stop_strings_end_drafted_sequences_where_plain_ones_end(smollm2):
    _warm(smollm2, [REPAIR])
    for s in (Sampling(max_tokens=7, draft="none"), Sampling(max_tokens=80, stop=("return",), draft="none"),
              Sampling(max_tokens=80, stop=("xs.",), draft="none")):
        plain = smollm2.generate(REPAIR, s)
        fast = smollm2.generate(REPAIR, s.with_(draft="prompt_lookup", draft_max=16, draft_ngram=2))
        _same(plain, fast)
        assert fast.finish_reason == ("length" if s.max_tokens == 7 else "stop")
    assert fast.text.endswith("running maxima of ") and fast.accepted_tokens > 5


def test_seeded_sampled_output_does_not_depend_on_what_was_drafted(smollm2):
    # the acceptance rule uses one uniform per position, so a run whose drafts hit and a run
    # that never drafts (the n-gram can never match) sample the very same text
    s = Sampling(temperature=0.7, top_p=0.95, top_k=40, max_tokens=70, seed=11, logprobs=True, draft="prompt_lookup")
    _warm(smollm2, [REPAIR])
    hits = smollm2.generate(REPAIR, s)
    none = smollm2.generate(REPAIR, s.with_(draft_ngram=10_000))
    _same(hits, none)
    assert hits.accepted_tokens > 0 and none.drafted_tokens == 0
    other_seed = smollm2.generate(REPAIR, s.with_(seed=12))
    assert other_seed.text != hits.text


def test_different_prompts_share_their_common_prefix_and_decode_like_separate_runs(smollm2):
    system = {"role": "system", "content": "You are a careful Python programmer. " * 8}
    prompts = [[system, {"role": "user", "content": q}] for q in
               ("Write the Python function add(a, b) in one ```python block.",
                "Write a Python function that reverses a string, in one ```python block.",
                "Write the Python function mul(a, b) in one ```python block.")]
    s = Sampling(max_tokens=24, logprobs=True, stop=["\n```"])  # the code, not the prose after it
    # each alone from an unrelated cache (not from whatever an earlier test left there); prompts
    # that ask for code, where the model is confident: prefills of other shapes move logits a little
    alone = []
    for p in prompts:
        smollm2.generate("unrelated text", Sampling(max_tokens=1))
        alone.append(smollm2.generate(p, s))
    smollm2.generate("unrelated text", Sampling(max_tokens=1))  # nothing of the prompts left in the cache
    out = generate_batch(smollm2, prompts, [s] * 3)
    for c, a in zip(out, alone):
        # prefills of other shapes: the same code; after it a near-tie between closing the block
        # and more prose can fall either way on some CPUs
        assert c.text.split("\n\n")[0] == a.text.split("\n\n")[0] and c.text.startswith("```python")
        n = min(len(c.token_logprobs), len(a.token_logprobs))
        assert c.token_logprobs[:n] == pytest.approx(a.token_logprobs[:n], abs=0.5)
    shared = out[1].cached_prompt_tokens
    assert shared > 60 and out[2].cached_prompt_tokens == shared and out[0].cached_prompt_tokens == 0
    assert out[0].meta["prefill_tokens"] == sum(c.prompt_tokens for c in out) - 2 * shared
    # the next call's prompts start with the cached prefix: it is not evaluated again
    again = smollm2.generate_batch([prompts[2], prompts[0]], [s, s])
    for c in again:
        assert c.cached_prompt_tokens >= shared and c.prompt_tokens_evaluated < 20
    _same(again[0], alone[2], exact=False)
    _same(again[1], alone[0], exact=False)


def test_a_model_drafting_for_itself_is_plain_decoding_with_nearly_every_draft_accepted(smollm2_path, smollm2):
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel

    m = LlamaCppModel(smollm2_path, draft_model=smollm2, draft_policy="all")  # a loaded model can serve as the draft
    try:
        s = Sampling(max_tokens=50, logprobs=True, draft="none")
        _warm(m, [REPAIR, OTHER])
        plain = m.generate_batch([REPAIR, OTHER], [s, s])
        spec = m.generate_batch([REPAIR, OTHER], [s.with_(draft="draft_model"), s.with_(draft="draft_model", draft_max=3)])
        _same(spec[0], plain[0], exact=False)
        _same(spec[1], plain[1], exact=False)
        for c in spec:
            # not 100 %: the draft's cache was filled by prefills of other shapes (see the top)
            assert c.drafted_tokens > 20 and c.acceptance_rate >= 0.75
        info = m.info()["drafting"]
        assert info["draft_model"] == smollm2.name and "draft_model" in info["modes"]
    finally:
        m._draft = None  # the fixture's model stays open for the other tests
        m.close()


def test_draft_model_requests_are_refused_in_one_line_when_they_cannot_work(smollm2_path, smollm2):
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel

    with pytest.raises(DraftModelError, match="has no draft model .* draft_model=") as err:
        smollm2.generate(OTHER, Sampling(max_tokens=4, draft="draft_model"))
    assert "\n" not in str(err.value)
    other = QWEN_05 if QWEN_05.exists() else Path.home() / ".cache/atlas_kernel/models/gemma-3-270m-q4_k_m.gguf"
    if not other.exists():
        pytest.skip("no second model family on this machine")
    with pytest.raises(DraftModelError, match="vocabularies differ .* same tokenizer") as err:
        LlamaCppModel(smollm2_path, draft_model=other)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not QWEN_05.exists(), reason="Qwen2.5-Coder-0.5B-Instruct is not on this machine")
def test_prompt_lookup_with_the_coder_model_repeats_plain_greedy_output():
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel

    m = LlamaCppModel(QWEN_05, n_ctx=2048, draft_policy="all")
    try:
        s = Sampling(max_tokens=100, draft="none")
        _warm(m, [REPAIR])
        plain = m.generate(REPAIR, s)
        fast = m.generate(REPAIR, s.with_(draft="prompt_lookup"))
        assert fast.text == plain.text and fast.accepted_tokens > 30
        auto = m.generate(REPAIR, s.with_(draft="auto"))  # the default: greedy calls draft by prompt lookup
        assert auto.text == plain.text and auto.drafted_tokens > 0
    finally:
        m.close()


@pytest.mark.skipif(not QWEN_05.exists(), reason="Qwen2.5-Coder-0.5B-Instruct is not on this machine")
def test_the_draft_policy_changes_how_much_is_drafted_never_the_text():
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel
    from atlas_kernel.models.step_cost import StepCosts

    m = LlamaCppModel(QWEN_05, n_ctx=2048, draft_policy="profile")
    try:
        gpu = m.n_gpu_layers != 0 and m._lc.llama_supports_gpu_offload()
        s = Sampling(max_tokens=100, draft="none")
        _warm(m, [REPAIR])
        plain = m.generate(REPAIR, s)
        profiled = m.generate(REPAIR, s.with_(draft="prompt_lookup"))
        m._step_costs = StepCosts.from_profile({1: 1.0, 2: 20.0})  # any draft is dear: none is sent
        dear = m.generate(REPAIR, s.with_(draft="prompt_lookup"))
        m._step_costs = StepCosts.from_profile({1: 1.0, 2: 1.05, 9: 1.3})  # drafts nearly free: sent
        cheap = m.generate(REPAIR, s.with_(draft="prompt_lookup"))
        assert dear.text == plain.text == cheap.text == profiled.text
        # the program being repaired is copied: the profile drafts it
        assert profiled.accepted_tokens > 30 and dear.drafted_tokens == 0 and cheap.accepted_tokens > 30
        assert cheap.meta["draft_policy"] == "profile"
        info = m.info()["drafting"]
        assert info["policy"] == "profile" and 0 < info["position_acceptance"]["prompt_lookup"] <= 1
        m.draft_policy = "measured"  # learns step costs from this machine's steps
        measured = m.generate(REPAIR, s.with_(draft="prompt_lookup"))
        assert measured.text == plain.text and m.info()["drafting"]["step_costs"]
        with pytest.raises(ValueError, match="draft_policy must be one of all, profile, measured"):
            m.draft_policy = "fast"
    finally:
        m.close()
    default = LlamaCppModel(QWEN_05, n_ctx=512)
    try:  # the default: fixed relative step costs on CPU, every draft sent with GPU offload
        assert default.draft_policy == ("all" if gpu else "profile")
    finally:
        default.close()
    with pytest.raises(ValueError, match="draft_policy must be one of"):
        LlamaCppModel(QWEN_05, draft_policy="fast")  # refused before the weights load


def test_a_sequence_whose_draft_missed_early_drafts_again_later(smollm2):
    """Under a planned policy a miss lowers a sequence's acceptance until its drafts stop paying;
    every step since the last miss weighs the misses less, so it drafts again (deterministically,
    counted in steps)."""
    from atlas_kernel.models.llama_cpp_backend import _Seq

    smollm2.draft_policy = "profile"
    toks = list(range(100, 140)) * 3  # a repeated run: prompt lookup proposes 8 tokens
    s = _Seq(Sampling(max_tokens=64, draft="prompt_lookup"), toks, (), 64)
    s.missed = 2

    def sent(since_miss):
        s.since_miss = since_miss
        return len(smollm2._drafts([s], [0], None, 4096, {"prompt_lookup": 0.9})[0])

    assert sent(0) == 0 and sent(30) >= 4
    s.sampling = s.sampling.with_(draft="none")
    assert sent(30) == 0
