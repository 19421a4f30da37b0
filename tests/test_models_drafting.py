"""Speculative decoding logic without a model: prompt lookup, the sampler's target distribution
and the acceptance rule for sampled output."""

import numpy as np
import pytest

from atlas_kernel.models.base import Completion, Sampling
from atlas_kernel.models.drafting import PromptLookup, sample_index, target_distribution, verify_draft_token


def test_prompt_lookup_proposes_what_followed_the_longest_earlier_match():
    # "1 2 3 4 5 6" appears in the prompt; an unrelated "9 3 4 7" too; the output so far ends "2 3 4"
    lk = PromptLookup(ngram_min=2, tokens=[1, 2, 3, 4, 5, 6, 0, 9, 3, 4, 7, 0])
    lk.extend([8, 2, 3, 4])
    assert lk.propose(3) == [5, 6, 0]  # the match "2 3 4" is longer than "3 4"
    assert lk.propose(1) == [5]
    lk.extend([5, 6])
    assert lk.propose(10) == [0, 9, 3, 4, 7, 0, 8, 2, 3, 4]  # stops at the end of what exists


def test_prompt_lookup_needs_ngram_min_matching_tokens():
    lk = PromptLookup(ngram_min=3, tokens=[1, 2, 3, 4, 5])
    lk.extend([7, 2, 3])  # only two tokens match
    assert lk.propose(4) == []
    lk.extend([4])
    assert lk.propose(4) == [5, 7, 2, 3]
    lk.sync([1, 2, 3, 4, 5, 7, 2, 3, 4, 5])
    assert lk.tokens[-1] == 5 and lk.propose(2) == [7, 2]
    with pytest.raises(ValueError):
        PromptLookup(ngram_min=0)


def _reference(logits, temperature, top_k, top_p):
    """The llama.cpp chain written out plainly: top-k, top-p on untempered probabilities, temperature."""
    logits = np.asarray(logits, dtype=np.float64)
    order = list(np.argsort(-logits, kind="stable"))
    if top_k:
        order = order[:top_k]
    p = np.exp(logits[order] - logits[order].max())
    p /= p.sum()
    keep, mass = [], 0.0
    for tok, q in zip(order, p):
        keep.append(tok)
        mass += q
        if mass >= top_p:
            break
    z = logits[keep] / temperature
    q = np.exp(z - z.max())
    return dict(zip(keep, q / q.sum()))


@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 0, 1.0), (0.7, 4, 1.0), (0.7, 0, 0.8), (1.3, 5, 0.9)])
def test_target_distribution_is_top_k_then_top_p_then_temperature(temperature, top_k, top_p):
    logits = np.array([2.0, 0.5, 1.5, -1.0, 0.0, 1.0, -3.0], dtype=np.float32)
    ids, probs = target_distribution(logits, temperature, top_k, top_p)
    want = _reference(logits, temperature, top_k, top_p)
    assert set(ids.tolist()) == set(want)
    for t, p in zip(ids.tolist(), probs):
        assert p == pytest.approx(want[t], rel=1e-9)
    assert list(probs) == sorted(probs, reverse=True)
    g_ids, g_p = target_distribution(logits, 0.0)
    assert g_ids.tolist() == [0] and g_p.tolist() == [1.0]


def test_acceptance_rule_accepts_with_p_of_the_draft_and_otherwise_samples_p_without_it():
    logits = np.array([1.2, 1.0, 0.3, -0.5, 0.8, -2.0], dtype=np.float32)
    ids, probs = target_distribution(logits, 0.9, 5, 0.95)
    p = dict(zip(ids.tolist(), probs))
    draft = int(ids[1])  # the second most likely token
    rng = np.random.default_rng(7)
    n = 40000
    accepted = 0
    rejected: dict[int, int] = {}
    for u in rng.random(n):
        tok, ok = verify_draft_token(ids, probs, draft, float(u))
        assert ok == (tok == draft)
        if ok:
            accepted += 1
        else:
            rejected[tok] = rejected.get(tok, 0) + 1
    sd = np.sqrt(p[draft] * (1 - p[draft]) / n)
    assert abs(accepted / n - p[draft]) < 5 * sd
    n_rej = n - accepted
    rest = {t: q / (1 - p[draft]) for t, q in p.items() if t != draft}
    assert draft not in rejected and set(rejected) <= set(rest)
    for t, q in rest.items():
        sd = np.sqrt(q * (1 - q) / n_rej)
        assert abs(rejected.get(t, 0) / n_rej - q) < 5 * sd + 1e-12


def test_a_positions_token_does_not_depend_on_the_draft():
    # one uniform per position: what was drafted decides only whether it is accepted, so a seeded
    # sampled run gives the same text whether the drafts hit or miss
    ids, probs = target_distribution(np.array([0.1, 0.4, 0.2, 0.3]), 1.0)
    for u in np.linspace(0, 0.999, 50):
        toks = {verify_draft_token(ids, probs, d, float(u))[0] for d in (None, 0, 1, 2, 3)}
        assert len(toks) == 1
    assert sample_index(np.array([0.5, 0.5]), 0.0) == 0 and sample_index(np.array([0.5, 0.5]), 0.999) == 1


def test_sampling_validates_the_draft_switch_and_completion_reports_speed():
    assert Sampling().draft == "none" and Sampling().draft_mode == "none"
    # "auto" drafts greedy calls only: a sampled call keeps its seeded random stream
    assert Sampling(draft="auto").draft_mode == "prompt_lookup"
    assert Sampling(temperature=0.4, draft="auto").draft_mode == "none"
    assert Sampling(temperature=0.4, draft="prompt_lookup").draft_mode == "prompt_lookup"
    with pytest.raises(ValueError, match="draft must be one of"):
        Sampling(draft="medusa")
    with pytest.raises(ValueError, match="draft_max"):
        Sampling(draft="prompt_lookup", draft_max=0)
    c = Completion(text="x", prompt_tokens=100, completion_tokens=40, finish_reason="stop", cached_prompt_tokens=70,
                   decode_s=2.0, drafted_tokens=30, accepted_tokens=24)
    assert c.prompt_tokens_evaluated == 30 and c.acceptance_rate == pytest.approx(0.8)
    assert c.decode_tokens_per_s == pytest.approx(20.0)
    assert Completion(text="", prompt_tokens=1, completion_tokens=0, finish_reason="stop").acceptance_rate is None
