"""The run context every phase gets: the problem, the model, the config, the state, and recorded
access to the model and the sandbox (so every prompt, completion and test run lands in the trace
and the event stream, and budgets are enforced in one place)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

from atlas_kernel.models.base import Completion, Model, Prompt, Sampling
from atlas_kernel.pipeline.checks import TestVerdict, run_tests
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.events import Event
from atlas_kernel.pipeline.state import Candidate, SolveState
from atlas_kernel.pipeline.trace import Trace
from atlas_kernel.problems.types import Problem, TestCase

# energy scorer hook: (problem, candidates, embeddings) -> energies (lower = more likely correct)
EnergyScorer = Callable[[Problem, Sequence[Candidate], Any], Sequence[float]]


class BudgetExhausted(Exception):
    pass


class RunContext:
    def __init__(self, problem: Problem, model: Model, config: PipelineConfig, *, style: str = "chat",
                 sandbox: Any = None, energy_scorer: EnergyScorer | None = None):
        self.problem = problem
        self.model = model
        self.config = config
        self.style = style
        self.sandbox = sandbox
        self.energy_scorer = energy_scorer
        self._lens_scorer: tuple[EnergyScorer | None] | None = None  # resolved once per solve
        self.state = SolveState(problem, tier=config.tier)
        info = model.info() if hasattr(model, "info") else {"name": getattr(model, "name", "?")}
        self.trace = Trace(problem=problem.to_dict(), config=config.to_dict(), model=info)
        self._outbox: list[Event] = []
        self.t0 = time.perf_counter()
        self._call_no = 0
        self.exhausted: str | None = None  # set when the token or time budget ran out
        # where the solve's wall time goes: model calls and sandbox runs, each counted once as wall
        # time (a batch, or candidates verified in parallel, are one interval); the rest is "other"
        self.busy_s: dict[str, float] = {"model": 0.0, "sandbox": 0.0}
        self._sandbox_depth = 0
        # what the model did, summed over the solve: tokens generated are state.tokens_used
        self.counts: dict[str, int] = {"calls": 0, "prefill_tokens": 0, "drafted_tokens": 0, "accepted_tokens": 0}

    def lens_scorer(self) -> EnergyScorer | None:
        """The scorer every Lens energy of this solve comes from: the pipeline's, else the model's
        trained lens, else None. One answer per solve, so candidates added late (repair) get
        energies on the same scale as the rest."""
        if self._lens_scorer is None:
            scorer = self.energy_scorer
            if scorer is None:
                try:
                    from atlas_kernel.lens.scoring import default_scorer

                    scorer = default_scorer(self.model)
                except ImportError:
                    scorer = None
            self._lens_scorer = (scorer,)
        return self._lens_scorer[0]

    @contextmanager
    def timing(self, what: str) -> Iterator[None]:
        """Count the wall time of the block as `what` ("model" | "sandbox"); nested sandbox
        blocks (a test run inside a parallel verification) count once, at the outermost."""
        outer = what != "sandbox" or self._sandbox_depth == 0
        if what == "sandbox":
            self._sandbox_depth += 1
        t0 = time.perf_counter()
        try:
            yield
        finally:
            if what == "sandbox":
                self._sandbox_depth -= 1
            if outer:
                self.busy_s[what] += time.perf_counter() - t0

    def time_split(self) -> dict[str, Any]:
        """Where the wall time went (model = prefill + decode, sandbox, other), with the solve's
        totals: tokens generated, tok/s over the model's wall time, prompt tokens evaluated, and
        the drafts' acceptance when speculative decoding ran."""
        wall = self.elapsed()
        model, sandbox = self.busy_s["model"], self.busy_s["sandbox"]
        return {"wall_s": wall, "model_s": model, "sandbox_s": sandbox, "other_s": max(0.0, wall - model - sandbox),
                **self.speed_totals()}

    def speed_totals(self) -> dict[str, Any]:
        """The model's totals so far: a batch counts once as model time, so tok_s is throughput."""
        tokens, model_s = self.state.tokens_used, self.busy_s["model"]
        out: dict[str, Any] = {"tokens": tokens, "tok_s": tokens / model_s if model_s > 0 else 0.0,
                               "prefill_tokens": self.counts["prefill_tokens"]}
        out.update(_drafting(self.counts["drafted_tokens"], self.counts["accepted_tokens"]))
        return out

    def speed_mark(self) -> tuple[int, int, float, int, int]:
        """A point to measure a stretch of the solve from (`speed_since`): one phase, say."""
        c = self.counts
        return c["calls"], self.state.tokens_used, self.busy_s["model"], c["drafted_tokens"], c["accepted_tokens"]

    def speed_since(self, mark: tuple[int, int, float, int, int]) -> dict[str, Any]:
        """Tokens, model seconds and tok/s since `mark`; empty when the model was not called."""
        calls, tokens, model_s, drafted, accepted = (now - then for now, then in zip(self.speed_mark(), mark))
        if not calls:
            return {}
        return {"tokens": tokens, "model_s": model_s, "tok_s": tokens / model_s if model_s > 0 else 0.0,
                **_drafting(drafted, accepted)}

    def collect_outputs(self, codes: Sequence[str], inputs: Sequence[str]) -> list[list[str | None]]:
        """Outputs of programs on inputs without known answers (self-tests, S*, second opinion)."""
        from atlas_kernel.pipeline.outputs import collect_outputs

        with self.timing("sandbox"):
            return collect_outputs(self.problem, codes, inputs, timeout_s=self.config.test_timeout_s,
                                   sandbox=self.sandbox)

    # -- events ----------------------------------------------------------------------------
    def emit(self, kind: str, phase: str, /, **data: Any) -> None:
        ev = Event(kind, phase, data)
        self.trace.events.append(ev)
        self._outbox.append(ev)

    def flush(self) -> Iterator[Event]:
        while self._outbox:
            yield self._outbox.pop(0)

    # -- budgets ---------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def tokens_left(self) -> int:
        return self.config.token_budget - self.state.tokens_used

    def out_of_budget(self) -> str | None:
        if self.elapsed() > self.config.time_budget_s:
            return f"time budget of {self.config.time_budget_s:.0f}s used"
        if self.tokens_left() <= 0:
            return f"token budget of {self.config.token_budget} used"
        return None

    def _cap(self, sampling: Sampling) -> Sampling:
        left = self.tokens_left()
        if left <= 0:
            raise BudgetExhausted(f"token budget of {self.config.token_budget} used")
        return sampling if sampling.max_tokens <= left else sampling.with_(max_tokens=left)

    # -- model -----------------------------------------------------------------------------
    def _record(self, phase: str, purpose: str, prompt: Prompt, sampling: Sampling, c: Completion) -> None:
        self._call_no += 1
        cid = f"call{self._call_no}"
        self.state.tokens_used += c.completion_tokens
        self.counts["calls"] += 1
        self.counts["prefill_tokens"] += c.prompt_tokens_evaluated
        self.counts["drafted_tokens"] += c.drafted_tokens
        self.counts["accepted_tokens"] += c.accepted_tokens
        self.trace.llm_calls.append({
            "id": cid, "phase": phase, "purpose": purpose, "prompt": prompt if isinstance(prompt, str) else [dict(m) for m in prompt],
            "completion": c.text, "sampling": {"temperature": sampling.temperature, "top_p": sampling.top_p,
                                               "max_tokens": sampling.max_tokens, "seed": sampling.seed},
            "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
            "cached_prompt_tokens": c.cached_prompt_tokens, "elapsed_s": c.elapsed_s,
            "finish_reason": c.finish_reason, "mean_logprob": c.mean_logprob,
        })
        # speed of this call: decode seconds (a batch's are shared by its sequences), this
        # sequence's tok/s, prompt tokens evaluated (not taken from a cache) and their seconds
        decode_s = c.decode_s or c.elapsed_s  # backends that do not separate prefill report elapsed only
        extra: dict[str, Any] = {"decode_s": decode_s,
                                 "tokens_per_s": c.completion_tokens / decode_s if decode_s > 0 else 0.0,
                                 "prefill_tokens": c.prompt_tokens_evaluated}
        if "prefill_s" in c.meta:
            extra["prefill_s"] = c.meta["prefill_s"]
        if c.drafted_tokens:  # speculative decoding: what the user sees of it (progress line, stepper)
            extra.update({"drafted_tokens": c.drafted_tokens, "accepted_tokens": c.accepted_tokens,
                          "acceptance_rate": c.acceptance_rate, "draft": sampling.draft_mode})
        self.trace.llm_calls[-1].update(extra)
        # the solve's rate so far rides along, so front ends show it without adding up batches
        totals = self.speed_totals()
        solve = {"solve_tokens": totals["tokens"], "solve_model_s": self.busy_s["model"], "solve_tok_s": totals["tok_s"]}
        if "acceptance_rate" in totals:
            solve["solve_acceptance"] = totals["acceptance_rate"]
        self.emit("llm_call", phase, id=cid, purpose=purpose, prompt_tokens=c.prompt_tokens,
                  completion_tokens=c.completion_tokens, elapsed_s=c.elapsed_s, **extra, **solve)

    def generate(self, phase: str, purpose: str, prompt: Prompt, sampling: Sampling) -> Completion:
        sampling = self._cap(sampling)
        with self.timing("model"):
            c = self.model.generate(prompt, sampling)
        self._record(phase, purpose, prompt, sampling, c)
        return c

    def generate_many(self, phase: str, purpose: str, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        k = len(samplings)
        return self.generate_batch(phase, [f"{purpose} [{i + 1}/{k}]" for i in range(k)], [prompt] * k, samplings)

    def generate_batch(self, phase: str, purposes: Sequence[str], prompts: Sequence[Prompt],
                       samplings: Sequence[Sampling]) -> list[Completion]:
        """Different prompts decoded together (one batch on backends that can); each is recorded
        as its own call. The token budget left is split evenly among them."""
        from atlas_kernel.models.base import generate_batch

        if not prompts:
            return []
        if self.tokens_left() <= 0:
            raise BudgetExhausted(f"token budget of {self.config.token_budget} used")
        per = max(1, self.tokens_left() // len(prompts))
        samplings = [s if s.max_tokens <= per else s.with_(max_tokens=per) for s in samplings]
        with self.timing("model"):
            outs = generate_batch(self.model, prompts, samplings)
        for purpose, p, s, c in zip(purposes, prompts, samplings, outs):
            self._record(phase, purpose, p, s, c)
        return outs

    # -- candidates ------------------------------------------------------------------------
    def add_candidate(self, phase: str, cand: Candidate) -> Candidate:
        """A new candidate joins the state and the event stream."""
        self.state.candidates.append(cand)
        self.emit("candidate", phase, id=cand.id, origin=cand.origin, plan=cand.plan, tokens=cand.completion_tokens,
                  code=cand.code)
        return cand

    # -- sandbox ---------------------------------------------------------------------------
    def run_tests(self, phase: str, candidate: Candidate, tests: Sequence[TestCase], suite: str) -> list[TestVerdict]:
        from atlas_kernel.sandbox import Limits

        if not tests:
            return []
        t0 = time.perf_counter()
        with self.timing("sandbox"):
            verdicts = run_tests(self.problem, candidate.code, tests, sandbox=self.sandbox,
                                 limits=Limits(timeout_s=self.config.test_timeout_s))
        passed = sum(1 for v in verdicts if v.passed)
        self.trace.test_runs.append({"phase": phase, "candidate": candidate.id, "suite": suite, "passed": passed,
                                     "total": len(verdicts), "verdicts": [v.to_dict() for v in verdicts],
                                     "elapsed_s": time.perf_counter() - t0})
        self.emit("test_run", phase, candidate=candidate.id, suite=suite, passed=passed, total=len(verdicts),
                  verdicts=[v.verdict for v in verdicts])
        return verdicts

    def verify_public(self, cands: Sequence[Candidate], phase: str = "verify") -> None:
        """Public examples for every candidate not checked yet (in parallel: each run is a sandbox process)."""
        todo = [c for c in cands if not c.public and self.problem.public_tests]
        if not todo:
            return
        if len(todo) == 1:
            todo[0].public = self.run_tests(phase, todo[0], self.problem.public_tests, "public")
            return
        with self.timing("sandbox"), ThreadPoolExecutor(max_workers=min(len(todo), 8)) as pool:
            results = list(pool.map(lambda c: self.run_tests(phase, c, self.problem.public_tests, "public"), todo))
        for c, r in zip(todo, results):
            c.public = r


def _drafting(drafted: int, accepted: int) -> dict[str, Any]:
    """Drafted and accepted tokens and their rate, only when speculative decoding ran."""
    if not drafted:
        return {}
    return {"drafted_tokens": drafted, "accepted_tokens": accepted, "acceptance_rate": accepted / drafted}
