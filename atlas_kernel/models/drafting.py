"""Speculative decoding pieces that do not touch llama.cpp: where drafts come from and how a
sampled draft is accepted.

- `PromptLookup`: drafts by n-gram lookup. The last tokens of a sequence (prompt + output so
  far) are looked up earlier in that same sequence; the tokens that followed the best match
  are proposed. Repair, edit and self-test prompts carry the program being reworked, so long
  runs of the output are copies and these drafts cost nothing to make.
- `target_distribution` / `sample_index`: the sampler's target distribution for one position
  (llama.cpp's chain top-k -> top-p -> temperature -> dist, recomputed in numpy) and inverse-CDF
  sampling from it with a given uniform.
- `verify_draft_token`: the standard speculative acceptance rule for a deterministic draft token t
  (accept with probability p(t); on rejection sample from p with t removed, renormalised),
  realised by coupling: one uniform per output position, the position's token is the inverse-CDF
  sample of p at that uniform, and t is accepted exactly when that sample is t. Its acceptance
  probability is p(t) and, given a rejection, the token is distributed as p without t
  renormalised, so output follows the target distribution; and since every position consumes one
  uniform whatever was drafted, a seeded sampled run gives the same text whether drafts hit or miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from atlas_kernel.errors import AtlasError
from atlas_kernel.models.base import DRAFT_MODES  # noqa: F401  (re-exported: the modes a Sampling accepts)


class DraftModelError(AtlasError):
    """A draft model that cannot draft for this target (different vocabulary, or none loaded)."""


# -- prompt lookup ----------------------------------------------------------------------------


@dataclass
class PromptLookup:
    """N-gram index over one growing token sequence.

    `propose(k)` finds earlier occurrences of the sequence's last `ngram_min` tokens, extends
    each match backwards (up to `max_match`), and proposes up to k tokens that followed the
    occurrence with the longest match (the latest one among equals): the longest match is the
    place the model is most likely copying from.
    """

    ngram_min: int = 3
    max_match: int = 64
    max_candidates: int = 16  # most recent occurrences examined per step
    tokens: list[int] = field(default_factory=list)
    _index: dict[tuple[int, ...], list[int]] = field(default_factory=dict)  # n-gram -> end positions (exclusive)

    def __post_init__(self) -> None:
        if self.ngram_min < 1:
            raise ValueError(f"ngram_min must be >= 1, got {self.ngram_min}")
        seq, self.tokens = list(self.tokens), []
        self.extend(seq)

    def extend(self, new: list[int]) -> None:
        n = self.ngram_min
        for tok in new:
            self.tokens.append(tok)
            end = len(self.tokens)
            if end >= n:
                self._index.setdefault(tuple(self.tokens[end - n:end]), []).append(end)

    def sync(self, history: list[int]) -> None:
        """Catch up with `history`, which extends the tokens seen so far."""
        if len(history) > len(self.tokens):
            self.extend(history[len(self.tokens):])

    def propose(self, k: int) -> list[int]:
        toks = self.tokens
        n = self.ngram_min
        if k < 1 or len(toks) <= n:
            return []
        ends = self._index.get(tuple(toks[-n:]), ())
        best_end, best_len = -1, 0
        last = len(toks)
        for end in reversed(ends[-self.max_candidates - 1:]):
            if end >= last:  # the suffix itself
                continue
            m = n
            while m < self.max_match and end - m - 1 >= 0 and toks[end - m - 1] == toks[last - m - 1]:
                m += 1
            if m > best_len:
                best_end, best_len = end, m
        if best_end < 0:
            return []
        return toks[best_end: min(best_end + k, last)]


# -- the target distribution and the acceptance rule ---------------------------------------------


def target_distribution(logits: np.ndarray, temperature: float, top_k: int = 0,
                        top_p: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) of the distribution llama.cpp's sampler chain samples from:
    keep the top_k largest logits (0 = all), then the smallest prefix by probability whose mass
    reaches top_p (probabilities of the untempered logits, at least one token), then softmax of
    logits / temperature over what is kept. Ids are ordered by decreasing probability."""
    row = np.asarray(logits, dtype=np.float32)
    if temperature <= 0:
        return np.array([int(np.argmax(row))]), np.array([1.0])
    if 0 < top_k < row.size:
        ids = np.argpartition(-row, top_k - 1)[:top_k]
    else:
        ids = np.arange(row.size)
    vals = row[ids].astype(np.float64)
    if top_p < 1.0:
        probs = np.exp(vals - vals.max())
        probs /= probs.sum()
        # look among the heaviest few first: a full sort of a 150k vocabulary per token is slow
        head = min(ids.size, 1024)
        while True:
            part = np.argpartition(-probs, head - 1)[:head] if head < ids.size else np.arange(ids.size)
            part = part[np.argsort(-probs[part], kind="stable")]
            cum = np.cumsum(probs[part])
            if cum[-1] >= top_p or head >= ids.size:
                keep = part[: int(np.searchsorted(cum, top_p)) + 1]
                break
            head = min(ids.size, head * 8)
        ids, vals = ids[keep], vals[keep]
    z = vals / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    return ids[order], p[order]


def sample_index(probs: np.ndarray, u: float) -> int:
    """Inverse-CDF sample: the first index whose cumulative probability exceeds u in [0, 1)."""
    i = int(np.searchsorted(np.cumsum(probs), u, side="right"))
    return min(i, len(probs) - 1)


def verify_draft_token(ids: np.ndarray, probs: np.ndarray, draft: int | None, u: float) -> tuple[int, bool]:
    """The position's token and whether it accepts `draft` (None: nothing drafted here).

    The token is the inverse-CDF sample of the target distribution at u, so the draft is
    accepted with probability p(draft) and, on rejection, the token is distributed as p with the
    draft removed and renormalised: the standard rule for a deterministic draft."""
    tok = int(ids[sample_index(probs, u)])
    return tok, draft is not None and tok == draft
