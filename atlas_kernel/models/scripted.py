"""A model whose answers are written by the test: for unit tests of pipeline logic only.

Every capability is also tested against the real embedded model; this one exists so
that logic (selection, repair loops, event streams) can be tested exactly and fast.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable, Sequence

import numpy as np

from atlas_kernel.models.base import Completion, Prompt, Sampling, apply_stop

Responder = Callable[[Prompt, Sampling], str]


def _prompt_text(prompt: Prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(f"{m['role']}: {m['content']}" for m in prompt)


class ScriptedModel:
    """Answers from a list (in turn, cycling) or from a function of (prompt, sampling)."""

    def __init__(self, responses: Sequence[str] | Responder, *, name: str = "scripted", dim: int = 16):
        self.name = name
        self._responder = responses if callable(responses) else None
        self._responses = list(responses) if not callable(responses) else []
        self._i = 0
        self._dim = dim
        self.prompts: list[Prompt] = []  # every prompt seen, for assertions

    def _next(self, prompt: Prompt, sampling: Sampling) -> str:
        self.prompts.append(prompt)
        if self._responder is not None:
            return self._responder(prompt, sampling)
        if not self._responses:
            raise RuntimeError("ScriptedModel has no responses")
        text = self._responses[self._i % len(self._responses)]
        self._i += 1
        return text

    def generate(self, prompt: Prompt, sampling: Sampling | None = None) -> Completion:
        sampling = sampling or Sampling()
        t0 = time.perf_counter()
        raw = self._next(prompt, sampling)
        text, stopped = apply_stop(raw, sampling.stop)
        words = text.split()
        truncated = len(words) > sampling.max_tokens
        if truncated:
            text = " ".join(words[: sampling.max_tokens])
        n = min(len(words), sampling.max_tokens)
        return Completion(
            text=text, prompt_tokens=len(_prompt_text(prompt).split()), completion_tokens=n,
            finish_reason="length" if truncated else "stop", elapsed_s=time.perf_counter() - t0,
            token_logprobs=[-0.5] * n if sampling.logprobs else None,
        )

    def generate_many(self, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        return [self.generate(prompt, s) for s in samplings]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self._dim)
        return out

    @property
    def embedding_dim(self) -> int:
        return self._dim

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def info(self) -> dict[str, Any]:
        return {"backend": "scripted", "name": self.name, "embedding_dim": self._dim}
