"""Draft-model speculation: a small model of the same family proposes tokens greedily, the
target model verifies them in one decode (see `LlamaCppModel.generate_batch`).

The draft model keeps its own batch context, one sequence per target sequence. Before each
proposal it is brought level with the target's history: the longest prefix its cache shares with
the history is kept, the rest (rejected drafts) removed, and the missing tokens evaluated, packed
across sequences; then it decodes greedily, one token per sequence per step, all sequences in
one batch. Greedy drafts are deterministic, which the acceptance rule for sampled output assumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from atlas_kernel.models.drafting import DraftModelError

# LlamaCppModel is named in strings only: the backend imports this module, so importing it back,
# even for type checking, would make a cycle (tests/test_layering.py forbids one)
LlamaCppModel = Any


def vocab_mismatch(target: "LlamaCppModel", draft: "LlamaCppModel") -> str | None:
    """Why `draft` cannot draft for `target` (None when their vocabularies are the same:
    same size, same special tokens, same text for every token id)."""
    lc = target._lc
    if target._n_vocab != draft._n_vocab:
        return f"{target._n_vocab} vs {draft._n_vocab} tokens"
    for what in ("llama_vocab_eos", "llama_vocab_bos"):
        a, b = getattr(lc, what)(target._vocab), getattr(lc, what)(draft._vocab)
        if a != b:
            return f"{what.rsplit('_', 1)[1]} token {a} vs {b}"
    for i in range(target._n_vocab):
        a, b = lc.llama_vocab_get_text(target._vocab, i), lc.llama_vocab_get_text(draft._vocab, i)
        if a != b:
            return f"token {i} is {a!r} vs {b!r}"
    return None


def attach_draft_model(target: "LlamaCppModel", draft: "str | Path | LlamaCppModel") -> tuple["LlamaCppModel", bool]:
    """The draft model to use for `target` and whether it was loaded here; refuses a draft
    model whose vocabulary differs."""
    # the target's own class builds the draft: importing the backend here would make a cycle
    model_class = type(target)
    if draft is target:
        raise DraftModelError(f"{target.name} cannot be its own draft model object (both would share one batch "
                              "context) — load the draft model separately: draft_model=<its path>")
    owned = not isinstance(draft, model_class)
    model = model_class(draft, n_threads=target.n_threads, n_gpu_layers=target.n_gpu_layers,
                          verbose=target._verbose) if owned else draft
    why = vocab_mismatch(target, model)
    if why is not None:
        if owned:
            model.close()
        raise DraftModelError(f"draft model {model.name} cannot draft for {target.name}: their vocabularies differ "
                              f"({why}) — use a smaller model of the same family with the same tokenizer "
                              "(e.g. Qwen2.5-Coder-0.5B-Instruct for Qwen2.5-Coder-1.5B-Instruct)")
    return model, owned


class ModelDrafter:
    """Greedy drafts from the draft model for the sequences of one target batch."""

    def __init__(self, model: "LlamaCppModel", prompts: Sequence[list[int] | None], max_new: Sequence[int],
                 n_draft: int):
        """prompts[i]: sequence i's prompt tokens, None where it does not draft; max_new[i]: the
        most tokens the target generates for it."""
        self.m = model
        self.k = len(prompts)
        seqs = [p for p in prompts if p is not None]
        total = sum(len(p) for p in {tuple(p): p for p in seqs}.values())
        grow = sum(n for p, n in zip(prompts, max_new) if p is not None)
        self.ctx = model._batch_context(self.k, total + grow + self.k * (n_draft + 2) + 16, self.k * (n_draft + 1))
        for seq in range(1, model._bctx_seqs):
            model._lc.llama_memory_seq_rm(self.ctx.memory, seq, -1, -1)
        # sequences that do not draft get an empty prompt slot; load the others (shared prefixes once)
        filler = next(p for p in seqs)
        loaded = [p if p is not None else filler[:1] for p in prompts]
        model._load_prompts(self.ctx, loaded, None)
        self.cache: list[list[int]] = [list(p) for p in loaded]  # tokens in each draft sequence

    def propose(self, wants: dict[int, tuple[list[int], int]]) -> dict[int, list[int]]:
        m, lc, ctx = self.m, self.m._lc, self.ctx
        mem = ctx.memory
        drafts: dict[int, list[int]] = {i: [] for i in wants}
        jobs = []
        for i, (hist, _) in wants.items():
            keep = min(_common(self.cache[i], hist), len(hist) - 1)
            if keep < len(self.cache[i]):
                lc.llama_memory_seq_rm(mem, i, keep, -1)
            jobs.append((i, hist, keep))
            self.cache[i] = list(hist)

        def take(i: int, idx: int) -> None:
            drafts[i].append(int(np.argmax(m._logits(ctx, idx))))

        m._prefill_many(ctx, jobs, take)
        active = [i for i in wants if len(drafts[i]) < wants[i][1] and not lc.llama_vocab_is_eog(m._vocab, drafts[i][-1])]
        batch = m._bbatch
        while active:
            b = batch.batch
            b.n_tokens = len(active)
            for n, i in enumerate(active):
                b.token[n] = drafts[i][-1]
                b.pos[n] = len(self.cache[i])
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = i
                b.logits[n] = True
                self.cache[i].append(drafts[i][-1])
            m._decode(ctx, batch)
            for n, i in enumerate(active):
                take(i, n)
            active = [i for i in active
                      if len(drafts[i]) < wants[i][1] and not lc.llama_vocab_is_eog(m._vocab, drafts[i][-1])]
        return drafts

    def close(self) -> None:
        self.m._release(self.ctx, self.k)


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n

