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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from atlas_kernel.errors import MissingDependencyError, ModelLoadError
from atlas_kernel.models.base import DRAFT_MODES, Completion, Prompt, Sampling, apply_stop
from atlas_kernel.models.drafting import DraftModelError, PromptLookup, target_distribution, verify_draft_token
from atlas_kernel.models.step_cost import CPU_STEP_PROFILE, StepCosts, acceptance_estimate, mode_prior, plan_drafts

DRAFT_POLICIES = ("all", "profile", "measured")


def _check_draft_policy(policy: str) -> str:
    if policy not in DRAFT_POLICIES:
        raise ValueError(f"draft_policy must be one of {', '.join(DRAFT_POLICIES)}, got {policy!r}")
    return policy


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


def _seed(s: Sampling) -> int:
    return (s.seed if s.seed is not None else int.from_bytes(os.urandom(4), "little")) & 0xFFFFFFFF


def token_logprob(logits: np.ndarray, tok: int) -> float:
    """log softmax(logits)[tok]. Exponentials in float32 and their sum in float64: a float64
    copy of a 152k-token vocabulary cost about 2-4 ms per generated token (a token's decode takes
    about 31 ms here, bench_speed.py), this about 0.7 ms, with the same value to about 1e-6."""
    m = logits.max()
    return float(logits[tok] - m) - float(np.log(np.exp(logits - m).sum(dtype=np.float64)))


def _common_prefix(*seqs: Sequence[int]) -> int:
    """Length of the longest prefix all token lists share."""
    if not seqs:
        return 0
    n = min(len(t) for t in seqs)
    first = seqs[0]
    for i in range(n):
        tok = first[i]
        if any(t[i] != tok for t in seqs[1:]):
            return i
    return n


@dataclass
class _Seq:
    """One sequence of a batch while it decodes."""

    sampling: Sampling
    prompt: list[int]
    stops: tuple[str, ...]
    max_new: int
    out: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    logprobs: list[float] = field(default_factory=list)
    finish: str | None = None
    pending: int = -1  # the last generated token, not in the cache yet
    n_past: int = 0  # tokens of this sequence in the cache
    drafted: int = 0
    accepted: int = 0
    missed: int = 0  # steps whose draft was cut short by a rejected token
    since_miss: int = 0  # steps since a drafted token of this sequence was last rejected
    cap: int = 0  # most tokens to draft next step (adapts to hits and misses)
    own_sampler: bool = False  # sampled with drafting: numpy sampler + acceptance rule
    rng: Any = None
    lookup: PromptLookup | None = None

    def __post_init__(self) -> None:
        s = self.sampling
        self.cap = s.draft_max
        self.own_sampler = s.temperature > 0 and s.draft_mode != "none"
        if self.own_sampler:
            self.rng = np.random.default_rng(_seed(s))
        if s.draft_mode == "prompt_lookup":
            self.lookup = PromptLookup(ngram_min=s.draft_ngram, tokens=self.prompt)


class LlamaCppModel:
    def __init__(self, model_path: str | Path, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, n_gpu_layers: int | None = None, seed: int = 0,
                 embed_ctx: int = 2048, verbose: bool = False, draft_model: "str | Path | LlamaCppModel | None" = None,
                 draft_policy: str | None = None):
        """`draft_model`: a smaller model with the same vocabulary (a GGUF path or a loaded
        LlamaCppModel) that drafts for samplings with draft="draft_model". `draft_policy`: how much
        of a draft a decode step sends (step_cost.py): "all" of it; "profile", what pays at fixed
        relative CPU step costs (output independent of machine load); "measured", what pays at the
        step costs measured in this process. Default: "profile" on CPU, "all" with GPU offload
        (a GPU verifies a few extra tokens nearly free)."""
        if draft_policy is not None:
            _check_draft_policy(draft_policy)  # before the weights load
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
        self._bctx_batch = 0
        self._last_drafting: dict[str, Any] = {}
        self._step_costs = StepCosts()
        self.draft_policy = draft_policy if draft_policy is not None else (
            "all" if n_gpu_layers != 0 and lc.llama_supports_gpu_offload() else "profile")
        self._mode_record: dict[str, list[float]] = {}  # draft mode -> [positions accepted, steps missed], decaying
        self._bctx_prefix: list[int] = []  # tokens held in sequence 0 of the batch context
        self._bbatch: Any = None
        self._piece_buf = ctypes.create_string_buffer(64)
        self._draft: LlamaCppModel | None = None
        self._draft_owned = False  # loaded here from a path: closed with this model
        if draft_model is not None:
            from atlas_kernel.models.draft_model import attach_draft_model

            self._draft, self._draft_owned = attach_draft_model(self, draft_model)

    @property
    def draft_policy(self) -> str:
        return self._draft_policy

    @draft_policy.setter
    def draft_policy(self, policy: str) -> None:
        self._draft_policy = _check_draft_policy(policy)
        if policy == "profile":
            self._step_costs = StepCosts.from_profile(CPU_STEP_PROFILE)
        elif not self._step_costs.learn:
            self._step_costs = StepCosts()

    # -- prompts -------------------------------------------------------------------------
    def has_chat_template(self) -> bool:
        return bool(self._template)

    def render(self, prompt: Prompt) -> tuple[str, tuple[str, ...]]:
        """The exact text fed to the model and the template's extra stop strings."""
        if isinstance(prompt, str):
            return prompt, ()
        messages = [dict(m) for m in prompt]
        begun = messages.pop()["content"] if messages and messages[-1].get("role") == "assistant" else ""
        if not self._template:
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
            return text + (" " + begun if begun else ""), ("\nUser:",)
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            tok = self._model
            eos = tok.token_get_text(tok.token_eos()) if tok.token_eos() >= 0 else ""
            bos = tok.token_get_text(tok.token_bos()) if tok.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(template=self._template, eos_token=eos, bos_token=bos)
        out = self._formatter(messages=messages)
        stops = out.stop if isinstance(out.stop, list) else ([out.stop] if out.stop else [])
        return out.prompt + begun, tuple(s for s in stops if s)

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

    # -- the batch context -------------------------------------------------------------------
    def _batch_context(self, n_seqs: int, n_ctx: int, n_batch: int = 512):
        lc = self._lc
        if (self._bctx is not None and self._bctx_seqs >= n_seqs and self._bctx.n_ctx() >= n_ctx
                and self._bctx_batch >= n_batch):
            return self._bctx
        from llama_cpp import _internals

        old_ctx = 0
        if self._bctx is not None:
            old_ctx = self._bctx.n_ctx()
            self._bctx.close()
            self._bctx = None
        params = lc.llama_context_default_params()
        # grow geometrically so a run with slowly rising needs does not rebuild every call, and
        # start at the model's n_ctx: a rebuild loses the prompt prefix kept between calls
        params.n_ctx = max(n_ctx, self.n_ctx, min(2 * old_ctx, 4 * self.n_ctx))
        params.n_seq_max = max(n_seqs, self._bctx_seqs)
        # one decode carries a token per sequence plus its drafts
        params.n_batch = max(512, n_batch, params.n_seq_max, self._bctx_batch)
        params.n_ubatch = params.n_batch
        params.kv_unified = True  # one cell pool: a copied prompt prefix is shared, not duplicated
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.embeddings = False
        with (contextlib.nullcontext() if self._verbose else _quiet_stderr()):
            self._bctx = _internals.LlamaContext(model=self._model, params=params, verbose=self._verbose)
        self._bctx_seqs = params.n_seq_max
        self._bctx_batch = params.n_batch
        self._bctx_prefix = []
        if self._bbatch is not None:
            self._bbatch.close()
        self._bbatch = _internals.LlamaBatch(n_tokens=params.n_batch, embd=0, n_seq_max=params.n_seq_max,
                                             verbose=self._verbose)
        return self._bctx

    def _sampler(self, s: Sampling):
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
        smp.add_dist(_seed(s))
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

    def _logits(self, ctx, idx: int) -> np.ndarray:
        ptr = self._lc.llama_get_logits_ith(ctx.ctx, idx)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))

    # -- prompts into sequences ---------------------------------------------------------------
    def _prefill_many(self, ctx, jobs: Sequence[tuple[int, list[int], int]],
                      on_last: Callable[[int, int], None] | None) -> int:
        """Decode tokens[start:] of every (seq, tokens, start) job, packed together into batches.
        `on_last(seq, batch index)` runs right after the decode that holds a job's last token,
        while its logits are valid. Returns the number of tokens evaluated."""
        batch = self._bbatch
        cap = batch._n_tokens
        work = [(seq, toks, pos, pos == len(toks) - 1) for seq, toks, start in jobs for pos in range(start, len(toks))]
        for lo in range(0, len(work), cap):
            chunk = work[lo: lo + cap]
            b = batch.batch
            b.n_tokens = len(chunk)
            lasts = []
            for i, (seq, toks, pos, last) in enumerate(chunk):
                b.token[i] = toks[pos]
                b.pos[i] = pos
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = seq
                b.logits[i] = last and on_last is not None
                if last:
                    lasts.append((seq, i))
            self._decode(ctx, batch)
            if on_last is not None:
                for seq, i in lasts:
                    on_last(seq, i)
        return len(work)

    def _load_prompts(self, ctx, toks: Sequence[list[int]],
                      on_last: Callable[[int, int], None] | None) -> tuple[list[int], int]:
        """Put prompt i into sequence i, evaluating as little as possible: sequence 0 keeps the
        longest prefix left there by the previous call, the longest prefix common to all distinct
        prompts is evaluated once in sequence 0 and copied (llama_memory_seq_cp on a unified
        cache shares the cells), each distinct prompt's own suffix is evaluated in one packed
        pass, and identical prompts copy the whole sequence of the first. `on_last(seq, idx)` sees
        each sequence's last prompt logits. Returns (cached prompt tokens per sequence, tokens
        evaluated)."""
        lc = self._lc
        mem = ctx.memory
        k = len(toks)
        leader: list[int] = []
        first_of: dict[tuple[int, ...], int] = {}
        for i, t in enumerate(toks):
            leader.append(first_of.setdefault(tuple(t), i))
        leads = list(first_of.values())  # leads[0] == 0
        # the last prompt token is always decoded: its logits give the first generated token
        reuse = min(_common_prefix(self._bctx_prefix, toks[0]), len(toks[0]) - 1)
        lc.llama_memory_seq_rm(mem, 0, reuse, -1)
        self._bctx_prefix = []
        common = 0
        if len(leads) > 1:
            common = min(min(len(toks[d]) for d in leads) - 1, _common_prefix(*(toks[d] for d in leads)))
        evaluated = 0
        if common > reuse:
            evaluated += self._prefill_many(ctx, [(0, toks[0][:common], reuse)], None)
        for d in leads[1:]:
            lc.llama_memory_seq_cp(mem, 0, d, 0, common)
        cached = [len(t) for t in toks]  # members of a group evaluate nothing themselves
        cached[0] = reuse
        for d in leads[1:]:
            cached[d] = common

        def last(seq: int, idx: int) -> None:
            for m in range(seq, k):
                if leader[m] == seq:
                    if m != seq:
                        lc.llama_memory_seq_cp(mem, seq, m, -1, -1)
                    if on_last is not None:
                        on_last(m, idx)  # all members share the prompt's last logits

        evaluated += self._prefill_many(ctx, [(d, toks[d], max(cached[d], common)) for d in leads], last)
        self._bctx_prefix = list(toks[0])
        return cached, evaluated

    def _release(self, ctx, n_seqs: int) -> None:
        """Keep only the first prompt, in sequence 0, for the next call."""
        mem = ctx.memory
        for seq in range(1, n_seqs):
            self._lc.llama_memory_seq_rm(mem, seq, -1, -1)
        self._lc.llama_memory_seq_rm(mem, 0, len(self._bctx_prefix), -1)

    # -- k sequences, decoded together ------------------------------------------------------------
    def generate_many(self, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        """k completions of one prompt: the prompt is evaluated once and copied to k sequences."""
        return self.generate_batch([prompt] * len(samplings), samplings)

    def generate_batch(self, prompts: Sequence[Prompt], samplings: Sequence[Sampling]) -> list[Completion]:
        """One completion per (prompt, sampling), all decoded together in one batch: sequence i
        holds prompt i (loaded by `_load_prompts`). Every decode step sends, per live sequence,
        its last token plus the tokens its drafter proposes (`Sampling.draft`); the longest
        prefix of the draft the sampler agrees with is kept and the rest is removed from the
        cache (llama_memory_seq_rm)."""
        lc = self._lc
        samplings = list(samplings)
        k = len(samplings)
        if len(prompts) != k:
            raise ValueError(f"generate_batch needs one sampling per prompt, got {len(prompts)} prompts and {k} samplings")
        if k == 0:
            return []
        if any(s.draft_mode == "draft_model" for s in samplings) and self._draft is None:
            raise DraftModelError("a sampling asks for draft='draft_model' but this model has no draft model — "
                                  "load it with draft_model=<path or model>, or use draft='prompt_lookup'")
        rendered = [self.render(p) for p in prompts]
        by_text: dict[str, list[int]] = {}
        toks = [by_text.setdefault(text, self.tokenize(text)) for text, _ in rendered]
        seqs = [_Seq(s, toks[i], tuple(s.stop) + rendered[i][1], self._check_room(len(toks[i]), s))
                for i, s in enumerate(samplings)]
        n_draft = max((s.draft_max for s in samplings if s.draft_mode != "none"), default=0)
        distinct = sum(len(t) for t in {tuple(t): t for t in toks}.values())
        ctx = self._batch_context(k, distinct + sum(s.max_new for s in seqs) + k * (n_draft + 1) + 16,
                                  k * (n_draft + 1))
        n_ctx = ctx.n_ctx()
        mem = ctx.memory
        t0 = time.perf_counter()
        for seq in range(1, self._bctx_seqs):
            lc.llama_memory_seq_rm(mem, seq, -1, -1)
        samplers = [self._sampler(s) if not seqs[i].own_sampler else None for i, s in enumerate(samplings)]
        drafter = None
        if any(s.draft_mode == "draft_model" for s in samplings):
            from atlas_kernel.models.draft_model import ModelDrafter

            drafter = ModelDrafter(self._draft, [toks[i] if s.draft_mode == "draft_model" else None
                                                 for i, s in enumerate(samplings)], [s.max_new for s in seqs], n_draft)

        def pick(i: int, idx: int, draft: int | None) -> tuple[int, bool, float]:
            s = seqs[i]
            row = None
            if s.own_sampler:
                row = self._logits(ctx, idx)
                ids, probs = target_distribution(row, s.sampling.temperature, s.sampling.top_k, s.sampling.top_p)
                tok, ok = verify_draft_token(ids, probs, draft, float(s.rng.random()))
            else:
                tok = lc.llama_sampler_sample(samplers[i].sampler, ctx.ctx, idx)
                ok = draft is not None and tok == draft
            lp = token_logprob(row if row is not None else self._logits(ctx, idx), tok) if s.sampling.logprobs else 0.0
            return tok, ok, lp

        def emit(i: int, tok: int, lp: float) -> bool:
            """Append one generated token; False when the sequence ends with it."""
            s = seqs[i]
            if lc.llama_vocab_is_eog(self._vocab, tok):
                s.finish = "stop"
                return False
            s.out.append(tok)
            s.text += self._piece(tok)
            if s.sampling.logprobs:
                s.logprobs.append(lp)
            if s.lookup is not None:
                s.lookup.extend([tok])
            if s.stops and apply_stop(s.text.decode("utf-8", errors="ignore"), s.stops)[1]:
                s.finish = "stop"
                return False
            if len(s.out) >= s.max_new or len(s.prompt) + len(s.out) >= n_ctx:
                s.finish = "length"
                return False
            return True

        def first(i: int, idx: int) -> None:
            tok, _, lp = pick(i, idx, None)
            seqs[i].pending = tok
            seqs[i].n_past = len(seqs[i].prompt)
            emit(i, tok, lp)

        priors = {mode: mode_prior(*self._mode_record.get(mode, (0, 0))) for mode in DRAFT_MODES}
        steps = 0
        try:
            cached, prefill_tokens = self._load_prompts(ctx, toks, first)
            prompt_done = time.perf_counter()
            batch = self._bbatch
            alive = [i for i in range(k) if seqs[i].finish is None]
            while alive:
                drafts = self._drafts(seqs, alive, drafter, n_ctx, priors)
                b = batch.batch
                n = 0
                starts = []
                for i in alive:
                    s = seqs[i]
                    starts.append(n)
                    for j, tok in enumerate([s.pending] + drafts[i]):
                        b.token[n] = tok
                        b.pos[n] = s.n_past + j
                        b.n_seq_id[n] = 1
                        b.seq_id[n][0] = i
                        b.logits[n] = True
                        n += 1
                b.n_tokens = n
                t_step = time.perf_counter()
                self._decode(ctx, batch)
                self._step_costs.record(n, time.perf_counter() - t_step)
                steps += 1
                still = []
                for i, base in zip(alive, starts):
                    s = seqs[i]
                    d = drafts[i]
                    s.drafted += len(d)
                    j = 0
                    live = True
                    while True:
                        tok, ok, lp = pick(i, base + j, d[j] if j < len(d) else None)
                        live = emit(i, tok, lp)
                        if ok:  # the drafted token is already in the cache
                            s.accepted += 1
                            j += 1
                            if live:
                                continue
                        break
                    s.n_past += 1 + j
                    s.pending = tok
                    if not ok and j < len(d):  # a drafted token was rejected (not: the sequence ended on one)
                        s.missed += 1
                        s.since_miss = 0
                    else:
                        s.since_miss += 1
                    if j < len(d):
                        lc.llama_memory_seq_rm(mem, i, s.n_past, -1)
                    if d:  # a miss shrinks the next draft, a full hit grows it back
                        s.cap = min(s.sampling.draft_max, 2 * s.cap) if j == len(d) else max(1, j)
                    if live:
                        still.append(i)
                alive = still
        finally:
            for smp in samplers:
                if smp is not None:
                    smp.close()
            self._release(ctx, k)
            if drafter is not None:
                drafter.close()
        done = time.perf_counter()
        elapsed, decode_s = done - t0, done - prompt_done
        total_out = sum(len(s.out) for s in seqs)
        for mode in {s.sampling.draft_mode for s in seqs if s.drafted}:
            # a decaying record: the phase that drafts now (program writing, repair) counts most
            rec = self._mode_record.setdefault(mode, [0.0, 0.0])
            rec[0] = 0.8 * rec[0] + sum(s.accepted for s in seqs if s.drafted and s.sampling.draft_mode == mode)
            rec[1] = 0.8 * rec[1] + sum(s.missed for s in seqs if s.drafted and s.sampling.draft_mode == mode)
        self._last_drafting = {"modes": sorted({s.sampling.draft_mode for s in seqs}),
                               "drafted": sum(s.drafted for s in seqs), "accepted": sum(s.accepted for s in seqs)}
        results = []
        for i, s in enumerate(seqs):
            txt, _ = apply_stop(s.text.decode("utf-8", errors="replace"), s.stops)
            results.append(Completion(
                text=txt, prompt_tokens=len(s.prompt), completion_tokens=len(s.out), finish_reason=s.finish or "length",
                elapsed_s=elapsed, token_logprobs=s.logprobs if s.sampling.logprobs else None,
                cached_prompt_tokens=cached[i], decode_s=decode_s, drafted_tokens=s.drafted, accepted_tokens=s.accepted,
                meta={"backend": "llama_cpp", "path": "batched", "k": k, "prompts": len(by_text),
                      "prefill_s": prompt_done - t0, "prefill_tokens": prefill_tokens, "draft": s.sampling.draft_mode,
                      "draft_policy": self._draft_policy,
                      "decode_steps": steps, "batch_decode_tokens_per_s": total_out / decode_s if decode_s > 0 else 0.0},
            ))
        return results

    def _drafts(self, seqs: list["_Seq"], alive: list[int], drafter: Any, n_ctx: int,
                priors: dict[str, float]) -> dict[int, list[int]]:
        """Each live sequence's draft for this step: at most what max_tokens leaves and the
        context holds, and its cap (policy "all") or the prefix the draft policy finds worth a
        step's cost. A draft model is asked only for the tokens the policy keeps (the worth of a
        position depends on acceptance and position, not on the token), so a skipped draft
        costs it nothing."""
        out: dict[int, list[int]] = {}
        planned = self._draft_policy != "all"
        for i in alive:
            s = seqs[i]
            cap = s.sampling.draft_max if planned else s.cap
            room = min(cap, s.max_new - len(s.out), n_ctx - 2 - len(s.prompt) - len(s.out))
            out[i] = []
            if room < 1 or s.sampling.draft_mode == "none":
                continue
            out[i] = s.lookup.propose(room) if s.lookup is not None else [-1] * room  # -1: the draft model's, later
        if planned and any(out.values()):
            # misses weigh less with every step since the last one, so a sequence whose drafts
            # stopped paying tries again later (deterministic: counted in steps, not time)
            accept = {i: acceptance_estimate(seqs[i].accepted, seqs[i].missed * 0.85 ** seqs[i].since_miss,
                                             priors[seqs[i].sampling.draft_mode]) for i in alive}
            keep = plan_drafts(out, accept, self._step_costs)
            for i in alive:
                out[i] = out[i][:keep[i]]
        wants = {i: (seqs[i].prompt + seqs[i].out, len(out[i])) for i in alive if seqs[i].lookup is None and out[i]}
        if wants:
            out.update(drafter.propose(wants))
        return out

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
            "drafting": {
                "modes": ["none", "prompt_lookup"] + (["draft_model"] if self._draft is not None else []),
                "draft_model": self._draft.name if self._draft is not None else None,
                "draft_model_path": str(self._draft.path) if self._draft is not None else None,
                "last_call": dict(self._last_drafting),
                "policy": self._draft_policy,
                # step costs by tokens in a step (relative for "profile", ms as measured for
                # "measured"), and per draft mode the drafted positions accepted of those checked
                "step_costs": self._step_costs.table(),
                "position_acceptance": {m: round(r[0] / max(1, r[0] + r[1]), 3) for m, r in self._mode_record.items()},
            },
        }

    def close(self) -> None:
        if self._draft is not None and self._draft_owned:
            self._draft.close()
        self._draft = None
        for obj in (self._bbatch, self._bctx):
            if obj is not None:
                obj.close()
        self._bctx = self._bbatch = None
        for llm in (self._embedder, self._llm):
            if llm is not None:
                llm.close()
