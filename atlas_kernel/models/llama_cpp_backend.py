"""In-process GGUF model through llama-cpp-python.

- `generate`: one sequence through llama-cpp-python's high-level `create_completion`, which
  keeps the previous prompt's KV cache and re-evaluates only the tokens after the longest
  shared prefix.
- `generate_many`: k sequences of ONE prompt decoded together. The prompt is evaluated
  once into sequence 0 of a second context with a unified KV cache, shared with sequences
  1..k-1 by `llama_memory_seq_cp` (no recomputation, no copy of cells), then every decode
  step sends one token per live sequence in one `llama_batch`. The high-level API cannot do
  this: it decodes one sequence at a time.
- `embed`: mean of the final-layer hidden states over the text's tokens (llama.cpp
  `LLAMA_POOLING_TYPE_MEAN`), from a third context on the same weights (mmap-shared), so
  the vector is the generating model's own representation of the text.

Chat prompts are rendered with the GGUF's own chat template (Jinja), identically for the
single and the batched path, so both see exactly the same tokens.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from atlas_kernel.errors import MissingDependencyError, ModelLoadError
from atlas_kernel.models.base import Completion, Prompt, Sampling, apply_stop


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise MissingDependencyError("llama-cpp-python", "Running a local GGUF model",
                                     "see the README's install command (builds llama-cpp-python==0.3.36)") from None
    return llama_cpp


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp prints loader chatter on fd 2; keep the user's terminal and notebook clean."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


quiet_stderr = _quiet_stderr  # the public name (benchmark/bench_models.py uses it)


class LlamaCppModel:
    def __init__(self, model_path: str | Path, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, n_gpu_layers: int | None = None, seed: int = 0,
                 embed_ctx: int = 2048, verbose: bool = False):
        lc = _llama_cpp()
        self._lc = lc
        path = Path(model_path)
        from atlas_kernel.models.gguf import check_gguf

        check_gguf(path)
        self.path = path
        self.name = name or path.stem
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        # A GPU build offloads every layer without code changes; a CPU build ignores it.
        if n_gpu_layers is None:
            n_gpu_layers = -1 if lc.llama_supports_gpu_offload() else 0
        self.n_gpu_layers = n_gpu_layers
        self.n_ctx = n_ctx
        self._embed_ctx = embed_ctx
        self._verbose = verbose
        try:
            with (contextlib.nullcontext() if verbose else _quiet_stderr()):
                # This context only serves tokenizer/metadata: generation runs in our own batch context.
                self._llm = lc.Llama(str(path), n_ctx=64, n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                     n_gpu_layers=n_gpu_layers, seed=seed, verbose=verbose)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {path} ({exc}) — the file may be truncated or of an "
                                 "architecture this llama-cpp-python build does not know; re-download it") from None
        self._model = self._llm._model
        self._vocab = lc.llama_model_get_vocab(self._model.model)
        self._n_vocab = self._llm.n_vocab()
        self._template = self._llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        self._embedder: Any = None
        self._bctx: Any = None  # batch context, (re)made on demand
        self._bctx_seqs = 0
        self._bctx_prefix: list[int] = []  # tokens held in sequence 0 of the batch context
        self._bbatch: Any = None
        self._piece_buf = ctypes.create_string_buffer(64)

    # -- prompts -------------------------------------------------------------------------
    def has_chat_template(self) -> bool:
        return bool(self._template)

    def render(self, prompt: Prompt) -> tuple[str, tuple[str, ...]]:
        """The exact text fed to the model and the template's extra stop strings."""
        if isinstance(prompt, str):
            return prompt, ()
        messages = [dict(m) for m in prompt]
        if not self._template:
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
            return text, ("\nUser:",)
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            tok = self._model
            eos = tok.token_get_text(tok.token_eos()) if tok.token_eos() >= 0 else ""
            bos = tok.token_get_text(tok.token_bos()) if tok.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(template=self._template, eos_token=eos, bos_token=bos)
        out = self._formatter(messages=messages)
        stops = out.stop if isinstance(out.stop, list) else ([out.stop] if out.stop else [])
        return out.prompt, tuple(s for s in stops if s)

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, add_bos=False))

    def _check_room(self, n_prompt: int, sampling: Sampling) -> int:
        room = self.n_ctx - n_prompt
        if room < 1:
            raise ModelLoadError(f"the prompt has {n_prompt} tokens, more than the context of {self.n_ctx} — "
                                 "shorten the problem statement or load the model with a larger n_ctx")
        return min(sampling.max_tokens, room)

    # -- one sequence ----------------------------------------------------------------------
    def generate(self, prompt: Prompt, sampling: Sampling | None = None) -> Completion:
        """One sequence through the same decode loop as `generate_many` (k = 1), so it shares
        the prompt-prefix cache and returns log-probabilities without llama-cpp-python's
        `logits_all` mode (which would keep n_ctx x n_vocab floats)."""
        out = self.generate_many(prompt, [sampling or Sampling()])[0]
        out.meta["path"] = "single"
        return out

    # -- k sequences of one prompt, decoded together ----------------------------------------
    def _batch_context(self, n_seqs: int, n_ctx: int):
        lc = self._lc
        if self._bctx is not None and self._bctx_seqs >= n_seqs and self._bctx.n_ctx() >= n_ctx:
            return self._bctx
        from llama_cpp import _internals

        old_ctx = 0
        if self._bctx is not None:
            old_ctx = self._bctx.n_ctx()
            self._bctx.close()
            self._bctx = None
        params = lc.llama_context_default_params()
        # grow geometrically so a run with slowly rising needs does not rebuild every call
        params.n_ctx = max(n_ctx, min(2 * old_ctx, 4 * self.n_ctx))
        params.n_batch = max(512, n_seqs)
        params.n_ubatch = max(512, n_seqs)
        params.n_seq_max = max(n_seqs, self._bctx_seqs)
        params.kv_unified = True  # one cell pool: a copied prompt prefix is shared, not duplicated
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.embeddings = False
        with (contextlib.nullcontext() if self._verbose else _quiet_stderr()):
            self._bctx = _internals.LlamaContext(model=self._model, params=params, verbose=self._verbose)
        self._bctx_seqs = params.n_seq_max
        self._bctx_prefix = []
        if self._bbatch is not None:
            self._bbatch.close()
        self._bbatch = _internals.LlamaBatch(n_tokens=max(512, params.n_seq_max), embd=0,
                                             n_seq_max=params.n_seq_max, verbose=self._verbose)
        return self._bctx

    def _sampler(self, s: Sampling, index: int):
        from llama_cpp import _internals

        smp = _internals.LlamaSampler()
        if s.temperature <= 0:
            smp.add_greedy()
            return smp
        if s.top_k:
            smp.add_top_k(s.top_k)
        if s.top_p < 1.0:
            smp.add_top_p(s.top_p, 1)
        smp.add_temp(s.temperature)
        seed = s.seed if s.seed is not None else int.from_bytes(os.urandom(4), "little")
        smp.add_dist((seed + 0 * index) & 0xFFFFFFFF)
        return smp

    def _piece(self, tok: int) -> bytes:
        n = self._lc.llama_token_to_piece(self._vocab, tok, self._piece_buf, len(self._piece_buf), 0, False)
        if n < 0:  # a piece longer than the buffer: grow it once and retry
            self._piece_buf = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, tok, self._piece_buf, len(self._piece_buf), 0, False)
        return self._piece_buf.raw[:n]

    def _decode(self, ctx, batch) -> None:
        rc = self._lc.llama_decode(ctx.ctx, batch.batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc} (the context may be full: lower k or max_tokens)")

    def generate_many(self, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        """k completions of one prompt: the prompt is evaluated once and copied to k sequences."""
        return self.generate_batch([prompt] * len(samplings), samplings)

    def _prefill(self, ctx, seq: int, tokens: list[int], start: int) -> int:
        """Decode tokens[start:] into sequence `seq`; the last token's logits are kept at the
        returned batch index (valid until the next decode)."""
        batch = self._bbatch
        n_batch = batch._n_tokens
        pos = start
        last = 0
        while pos < len(tokens):  # in chunks of the batch size
            chunk = tokens[pos: pos + n_batch]
            b = batch.batch
            b.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                b.token[i] = tok
                b.pos[i] = pos + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = seq
                b.logits[i] = False
            pos += len(chunk)
            if pos >= len(tokens):
                b.logits[len(chunk) - 1] = True
                last = len(chunk) - 1
            self._decode(ctx, batch)
        return last

    def generate_batch(self, prompts: Sequence[Prompt], samplings: Sequence[Sampling]) -> list[Completion]:
        """One completion per (prompt, sampling), all decoded together in one batch: sequence i
        holds prompt i. Identical prompts are evaluated once and shared by copying their cells
        (llama_memory_seq_cp on a unified KV cache); the first prompt also reuses the longest
        prefix left in sequence 0 by the previous call."""
        lc = self._lc
        samplings = list(samplings)
        k = len(samplings)
        if len(prompts) != k:
            raise ValueError(f"generate_batch needs one sampling per prompt, got {len(prompts)} prompts and {k} samplings")
        if k == 0:
            return []
        rendered = [self.render(p) for p in prompts]
        # sequences with the same text share one prefill; `leader[i]` is the first of its group
        leader: list[int] = []
        first_of: dict[str, int] = {}
        for i, (text, _) in enumerate(rendered):
            leader.append(first_of.setdefault(text, i))
        tokens_of = {i: self.tokenize(rendered[i][0]) for i in first_of.values()}
        toks = [tokens_of[leader[i]] for i in range(k)]
        max_new = [self._check_room(len(toks[i]), samplings[i]) for i in range(k)]
        ctx = self._batch_context(k, sum(len(t) for t in tokens_of.values()) + sum(max_new) + 16)
        mem = ctx.memory
        t0 = time.perf_counter()
        for seq in range(1, self._bctx_seqs):
            lc.llama_memory_seq_rm(mem, seq, -1, -1)
        samplers = [self._sampler(s, i) for i, s in enumerate(samplings)]
        stops = [tuple(samplings[i].stop) + rendered[i][1] for i in range(k)]
        out_tokens: list[list[int]] = [[] for _ in range(k)]
        out_bytes: list[bytearray] = [bytearray() for _ in range(k)]
        logprobs: list[list[float]] = [[] for _ in range(k)]
        finish = ["length"] * k
        next_tok: dict[int, int] = {}
        cached = [len(t) for t in toks]  # copied sequences evaluate nothing themselves
        prefill_tokens = 0

        def sample(seq: int, idx: int) -> None:
            tok = lc.llama_sampler_sample(samplers[seq].sampler, ctx.ctx, idx)
            if samplings[seq].logprobs:
                ptr = lc.llama_get_logits_ith(ctx.ctx, idx)
                row = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).astype(np.float64)
                m = row.max()
                logprobs[seq].append(float(row[tok] - m - np.log(np.exp(row - m).sum())))
            next_tok[seq] = tok

        try:
            for lead in first_of.values():  # prefill each distinct prompt, then sample its first tokens
                tokens = tokens_of[lead]
                start = 0
                if lead == 0:  # keep the longest prefix already in sequence 0
                    for a, b in zip(self._bctx_prefix, tokens):
                        if a != b:
                            break
                        start += 1
                    start = min(start, len(tokens) - 1)  # the last prompt token is always decoded: we need its logits
                    lc.llama_memory_seq_rm(mem, 0, start, -1)
                    self._bctx_prefix = []
                cached[lead] = start
                prefill_tokens += len(tokens) - start
                idx = self._prefill(ctx, lead, tokens, start)
                members = [i for i in range(k) if leader[i] == lead]
                for seq in members:
                    if seq != lead:
                        lc.llama_memory_seq_cp(mem, lead, seq, -1, -1)
                    sample(seq, idx)  # all members share the prompt's last logits
                if lead == 0:
                    self._bctx_prefix = list(tokens)
            prompt_done = time.perf_counter()
            alive = list(range(k))
            step = 0
            batch = self._bbatch
            while alive:
                still = []
                for seq in alive:
                    tok = next_tok[seq]
                    if lc.llama_vocab_is_eog(self._vocab, tok):
                        finish[seq] = "stop"
                        if samplings[seq].logprobs:
                            logprobs[seq].pop()
                        continue
                    out_tokens[seq].append(tok)
                    out_bytes[seq] += self._piece(tok)
                    if stops[seq]:
                        txt = out_bytes[seq].decode("utf-8", errors="ignore")
                        if apply_stop(txt, stops[seq])[1]:
                            finish[seq] = "stop"
                            continue
                    if len(out_tokens[seq]) >= max_new[seq] or len(toks[seq]) + step + 1 >= ctx.n_ctx():
                        finish[seq] = "length"
                        continue
                    still.append(seq)
                alive = still
                if not alive:
                    break
                b = batch.batch
                b.n_tokens = len(alive)
                for i, seq in enumerate(alive):
                    b.token[i] = next_tok[seq]
                    b.pos[i] = len(toks[seq]) + step
                    b.n_seq_id[i] = 1
                    b.seq_id[i][0] = seq
                    b.logits[i] = True
                self._decode(ctx, batch)
                for i, seq in enumerate(alive):
                    sample(seq, i)
                step += 1
        finally:
            for smp in samplers:
                smp.close()
            for seq in range(1, k):  # keep only the first prompt in sequence 0 for the next call
                lc.llama_memory_seq_rm(mem, seq, -1, -1)
            lc.llama_memory_seq_rm(mem, 0, len(self._bctx_prefix), -1)
        elapsed = time.perf_counter() - t0
        results = []
        for seq in range(k):
            txt = out_bytes[seq].decode("utf-8", errors="replace")
            txt, _ = apply_stop(txt, stops[seq])
            results.append(Completion(
                text=txt, prompt_tokens=len(toks[seq]), completion_tokens=len(out_tokens[seq]), finish_reason=finish[seq],
                elapsed_s=elapsed, token_logprobs=logprobs[seq] if samplings[seq].logprobs else None,
                cached_prompt_tokens=cached[seq],
                meta={"backend": "llama_cpp", "path": "batched", "k": k, "prompts": len(first_of),
                      "prefill_s": prompt_done - t0, "prefill_tokens": prefill_tokens},
            ))
        return results

    # -- embeddings ------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        lc = self._lc
        if self._embedder is None:
            with (contextlib.nullcontext() if self._verbose else _quiet_stderr()):
                self._embedder = lc.Llama(str(self.path), n_ctx=self._embed_ctx, n_batch=self._embed_ctx,
                                          n_ubatch=self._embed_ctx, n_threads=self.n_threads,
                                          n_threads_batch=self.n_threads, n_gpu_layers=self.n_gpu_layers,
                                          embedding=True, pooling_type=lc.LLAMA_POOLING_TYPE_MEAN, verbose=self._verbose)
        if not texts:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        rows = [self._embedder.embed(t, truncate=True) for t in texts]  # one text per decode: no cross-talk
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)

    @property
    def embedding_dim(self) -> int:
        return int(self._llm.n_embd())

    def info(self) -> dict[str, Any]:
        md = self._llm.metadata
        return {
            "backend": "llama_cpp", "name": self.name, "path": str(self.path),
            "architecture": md.get("general.architecture"), "n_ctx": self.n_ctx, "n_threads": self.n_threads,
            "n_gpu_layers": self.n_gpu_layers, "gpu_offload": bool(self._lc.llama_supports_gpu_offload()),
            "embedding_dim": self.embedding_dim, "embedding_pooling": "mean of final-layer hidden states",
            "chat_template": bool(self._template), "llama_cpp_python": getattr(self._lc, "__version__", "?"),
        }

    def close(self) -> None:
        for obj in (self._bbatch, self._bctx):
            if obj is not None:
                obj.close()
        self._bctx = self._bbatch = None
        for llm in (self._embedder, self._llm):
            if llm is not None:
                llm.close()
