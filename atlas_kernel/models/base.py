"""The `Model` interface every pipeline phase talks to, and its value types.

A prompt is either a string (raw completion) or a list of chat messages
(`{"role": ..., "content": ...}`), which the backend renders with the model's own chat
template. A last message with role "assistant" is an answer already begun: the model continues
it and the completion holds only the continuation (llama.cpp backend; an OpenAI-compatible
server gets the messages as they are — llama.cpp's server continues such a message). Backends: `llama_cpp_backend.LlamaCppModel` (in-process GGUF) and
`openai_http.OpenAIModel` (any OpenAI-compatible server). Tests use `scripted.ScriptedModel`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, Sequence, Union, runtime_checkable

import numpy as np

DRAFT_MODES = ("auto", "none", "prompt_lookup", "draft_model")

Message = dict[str, str]
Prompt = Union[str, Sequence[Message]]


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False  # return the log-probability of each generated token
    # Speculative decoding (llama.cpp backend; others ignore it). Greedy output is unchanged
    # token for token; sampled output keeps the target distribution. "prompt_lookup" drafts by
    # n-gram lookup in the prompt and output so far; "draft_model" asks the backend's draft model.
    # "auto": prompt lookup for greedy calls, none for sampled ones (drafting draws other random
    # numbers, so a seeded sample would change).
    draft: str = "none"  # "none" | "auto" | "prompt_lookup" | "draft_model"
    draft_max: int = 8  # most tokens drafted per step
    draft_ngram: int = 3  # prompt lookup: tokens that must match before a draft is proposed

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.draft not in DRAFT_MODES:
            raise ValueError(f"draft must be one of {', '.join(DRAFT_MODES)}, got {self.draft!r}")
        if self.draft_max < 1 or self.draft_ngram < 1:
            raise ValueError(f"draft_max and draft_ngram must be >= 1, got {self.draft_max} and {self.draft_ngram}")
        object.__setattr__(self, "stop", tuple(self.stop))

    def with_(self, **changes: Any) -> "Sampling":
        return replace(self, **changes)

    @property
    def draft_mode(self) -> str:
        """The drafting this call gets: "auto" resolved by temperature."""
        if self.draft == "auto":
            return "prompt_lookup" if self.temperature <= 0 else "none"
        return self.draft


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    elapsed_s: float = 0.0
    token_logprobs: list[float] | None = None
    # prompt tokens that were not evaluated again (prefix cache / shared batch prefix)
    cached_prompt_tokens: int = 0
    # seconds spent decoding after the prompt (shared by the sequences of one batch)
    decode_s: float = 0.0
    # speculative decoding: tokens proposed by the drafter and how many of them the model accepted
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_tokens_evaluated(self) -> int:
        return self.prompt_tokens - self.cached_prompt_tokens

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted_tokens / self.drafted_tokens if self.drafted_tokens else None

    @property
    def decode_tokens_per_s(self) -> float:
        return self.completion_tokens / self.decode_s if self.decode_s > 0 else 0.0

    @property
    def mean_logprob(self) -> float | None:
        if not self.token_logprobs:
            return None
        vals = [v for v in self.token_logprobs if v is not None and math.isfinite(v)]
        return sum(vals) / len(vals) if vals else None

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Model(Protocol):
    """What the pipeline needs from a language model."""

    name: str

    def generate(self, prompt: Prompt, sampling: Sampling | None = None) -> Completion:
        """One completion of a raw prompt (str) or a chat (list of messages)."""
        ...

    def generate_many(self, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        """len(samplings) completions of ONE prompt; backends that can decode them together do."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), embedding_dim): the model's own pooled hidden states."""
        ...

    @property
    def embedding_dim(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def info(self) -> dict[str, Any]: ...


def generate_batch(model: Model, prompts: Sequence[Prompt], samplings: Sequence[Sampling]) -> list[Completion]:
    """One completion per (prompt, sampling). Backends that decode different prompts together
    provide `generate_batch`; for the others, identical prompts still go through `generate_many`."""
    if len(prompts) != len(samplings):
        raise ValueError(f"one sampling per prompt: got {len(prompts)} prompts and {len(samplings)} samplings")
    own = getattr(model, "generate_batch", None)
    if callable(own):
        return list(own(prompts, samplings))
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(repr(p), []).append(i)
    out: list[Completion | None] = [None] * len(prompts)
    for idx in groups.values():
        for i, c in zip(idx, model.generate_many(prompts[idx[0]], [samplings[i] for i in idx])):
            out[i] = c
    return [c for c in out if c is not None]


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` at the first stop string; return (text, stopped)."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut], cut < len(text)
