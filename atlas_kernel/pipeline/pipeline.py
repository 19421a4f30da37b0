"""The pipeline: phases run one at a time over a shared state, yielding events.

    pipe = Pipeline(model, PipelineConfig.for_condition("E"))
    solution = pipe.run(problem)                 # drain
    for event in pipe.events(problem): ...       # stream (CLI, magic)
    run = pipe.start(problem); run.step() ...    # one phase at a time (stepper widget); the state
                                                 # (candidates, self-tests) may be edited between steps

Phases, in order (each skipped when its switch is off):
  route -> probe -> plansearch -> divsampling -> verify -> self_tests -> lens -> select -> sstar
  -> repair -> final
The probe ends the solve early when it passes every public example (and, with the router on,
is confident). Only a `Problem` is accepted: hidden tests cannot enter.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from atlas_kernel.models.base import Model, Sampling
from atlas_kernel.pipeline import budget, divsampling, plansearch, repair, router, selftests, sstar
from atlas_kernel.pipeline.config import TIERS, PipelineConfig
from atlas_kernel.pipeline.context import BudgetExhausted, EnergyScorer, RunContext
from atlas_kernel.pipeline.events import Event
from atlas_kernel.pipeline.extract import completion_stops, extract_code
from atlas_kernel.pipeline.prompts import chat_code_prompt, code_prompt
from atlas_kernel.pipeline.select import select
from atlas_kernel.pipeline.state import Candidate
from atlas_kernel.pipeline.trace import Trace
from atlas_kernel.problems.types import Problem, require_problem

_GENERATIVE = {"plansearch", "divsampling", "self_tests", "sstar", "repair"}
PHASES = ("route", "probe", "plansearch", "divsampling", "verify", "self_tests", "lens", "select", "sstar", "repair", "final")


@dataclass
class Solution:
    problem_id: str
    code: str
    candidate: str | None
    public_passed: int
    public_total: int
    solved_by: str | None  # origin of the chosen candidate: probe | plan | div | repair
    stopped_early: str | None
    tokens: int
    wall_s: float
    phase_times: dict[str, float] = field(default_factory=dict)
    trace: Trace | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "trace"}


class PipelineRun:
    """One solve in progress. `step()` runs the next phase and returns its events."""

    def __init__(self, ctx: RunContext, phases: list[str]):
        self.ctx = ctx
        self.phases = phases
        self.index = 0
        self.solution: Solution | None = None

    @property
    def state(self):
        return self.ctx.state

    @property
    def trace(self) -> Trace:
        return self.ctx.trace

    @property
    def done(self) -> bool:
        return self.index >= len(self.phases)

    @property
    def next_phase(self) -> str | None:
        return None if self.done else self.phases[self.index]

    def stream(self) -> Iterator[Event]:
        """Events of the next phase as they happen."""
        if self.done:
            return
        name = self.phases[self.index]
        self.index += 1
        if self.ctx.state.stopped_early and name != "final":
            return
        ctx = self.ctx
        if ctx.exhausted and name in _GENERATIVE:
            return  # out of tokens/time: no new model work, but verify/select/final still run
        ctx.emit("phase_started", name, phase=name)
        yield from ctx.flush()
        t0 = time.perf_counter()
        try:
            yield from _PHASE_FUNCS[name](ctx)
        except BudgetExhausted as exc:
            ctx.exhausted = str(exc)
            ctx.emit("early_stop", name, reason=f"{exc}: remaining model phases skipped")
        if not ctx.exhausted and name in _GENERATIVE and ctx.out_of_budget():
            ctx.exhausted = ctx.out_of_budget()
            ctx.emit("early_stop", name, reason=f"{ctx.exhausted}: remaining model phases skipped")
        dt = time.perf_counter() - t0
        ctx.state.phase_times[name] = ctx.state.phase_times.get(name, 0.0) + dt
        ctx.emit("phase_finished", name, phase=name, elapsed_s=dt, summary=_summary(ctx, name))
        yield from ctx.flush()
        if name == "final":
            self.solution = _solution(ctx)

    def step(self) -> list[Event]:
        return list(self.stream())

    def __iter__(self) -> Iterator[Event]:
        while not self.done:
            yield from self.stream()

    def run_to_end(self) -> Solution:
        for _ in self:
            pass
        assert self.solution is not None
        return self.solution


class Pipeline:
    def __init__(self, model: Model, config: PipelineConfig | None = None, *, style: str | None = None,
                 sandbox: Any = None, energy_scorer: EnergyScorer | None = None):
        self.model = model
        self.config = config or PipelineConfig()
        if style is None:
            from atlas_kernel.models.registry import prompt_style

            style = prompt_style(getattr(model, "name", None), model)
        self.style = style
        self.sandbox = sandbox
        self.energy_scorer = energy_scorer

    def start(self, problem: Problem) -> PipelineRun:
        problem = require_problem(problem, "Pipeline")
        cfg = self.config
        phases = [p for p in PHASES if _enabled(cfg, p)]
        ctx = RunContext(problem, self.model, cfg, style=self.style, sandbox=self.sandbox, energy_scorer=self.energy_scorer)
        return PipelineRun(ctx, phases)

    def events(self, problem: Problem) -> Iterator[Event]:
        run = self.start(problem)
        yield from run
        self._last = run

    def run(self, problem: Problem, on_event: Callable[[Event], None] | None = None) -> Solution:
        run = self.start(problem)
        for ev in run:
            if on_event:
                on_event(ev)
        assert run.solution is not None
        return run.solution


def _enabled(cfg: PipelineConfig, phase: str) -> bool:
    return {
        "route": cfg.router, "probe": True, "plansearch": cfg.plansearch and cfg.n_plans > 0,
        "divsampling": cfg.divsampling and cfg.k - cfg.n_plans > 0, "verify": True,
        "self_tests": cfg.self_tests, "lens": cfg.lens, "select": True, "sstar": cfg.sstar,
        "repair": cfg.repair, "final": True,
    }[phase]


# -- phases ---------------------------------------------------------------------------------
def _route(ctx: RunContext) -> Iterator[Event]:
    sig = router.pre_signals(ctx.problem)
    coding = router.is_coding(sig)
    tier = router.choose_tier(sig)
    ctx.state.tier = tier
    ctx.state.route = {"path": "full" if coding else "fast", "reason": "coding problem" if coding else "not a coding question",
                       "tier": tier, "signals": sig}
    ctx.emit("route", "route", **ctx.state.route)
    if not coding:
        ctx.state.stopped_early = "router: not a coding question, answered in one generation"
    yield from ctx.flush()


def _probe(ctx: RunContext) -> Iterator[Event]:
    cp = code_prompt(ctx.problem, ctx.style)  # the single-shot prompt: condition A is exactly this phase
    stop = completion_stops(ctx.problem) if cp.completion_of is not None else ()
    c = ctx.generate("probe", "single-shot answer", cp.prompt,
                     Sampling(temperature=ctx.config.temperature, max_tokens=ctx.config.max_tokens, seed=ctx.config.seed,
                              logprobs=True, stop=stop))
    cand = Candidate(id="probe", code=extract_code(ctx.problem, c.text, completion_of=cp.completion_of), origin="probe",
                     completion_tokens=c.completion_tokens, mean_logprob=c.mean_logprob)
    ctx.state.candidates.append(cand)
    ctx.emit("candidate", "probe", id=cand.id, origin="probe", plan="", tokens=c.completion_tokens, code=cand.code)
    yield from ctx.flush()
    _verify_public(ctx, [cand])
    yield from ctx.flush()
    if ctx.config.condition == "A" or ctx.state.stopped_early:
        return
    if cand.public_total and cand.public_passed == cand.public_total and ctx.config.early_stop:
        if ctx.config.router:
            path, reason = router.post_probe(cand.public_passed, cand.public_total, cand.mean_logprob)
            ctx.state.route.update({"path": path, "reason": reason})
            ctx.emit("route", "probe", **ctx.state.route)
            if path == "fast":
                ctx.state.stopped_early = f"probe: {reason}"
        else:
            ctx.state.stopped_early = f"probe passed all {cand.public_total} public examples"
        if ctx.state.stopped_early:
            ctx.emit("early_stop", "probe", reason=ctx.state.stopped_early)
    yield from ctx.flush()


def _plansearch(ctx: RunContext) -> Iterator[Event]:
    yield from plansearch.run(ctx)


def _divsampling(ctx: RunContext) -> Iterator[Event]:
    cfg = ctx.config
    n = cfg.k - (cfg.n_plans if cfg.plansearch else 0)
    if n <= 0:
        return
    rows = divsampling.perturbations(n, cfg.seed)
    tier = TIERS[ctx.state.tier]
    if ctx.style == "completion":
        # a base model cannot follow roles or instructions: vary the sampler on its raw prompt
        cp = code_prompt(ctx.problem, "completion")
        samplings = [Sampling(temperature=max(0.2, p.temperature), top_p=0.95, max_tokens=cfg.max_tokens,
                              seed=cfg.seed * 1000 + i, logprobs=True, stop=completion_stops(ctx.problem))
                     for i, p in enumerate(rows)]
        outs = ctx.generate_many("divsampling", "diverse samples", cp.prompt, samplings)
        for p, c in zip(rows, outs):
            _add(ctx, "div", extract_code(ctx.problem, c.text, completion_of=cp.completion_of), c.completion_tokens,
                 c.mean_logprob, f"temperature {p.temperature}")
        yield from ctx.flush()
        return
    # every row without a reasoning budget decodes in ONE batch (rows sharing a prompt share its
    # prefill); rows with a budget go through budget forcing one at a time
    plain = [(i, p) for i, p in enumerate(rows) if not (cfg.budget_forcing and i % 3 == 2 and tier.think_tokens > 0)]
    forced = [(i, p) for i, p in enumerate(rows) if (i, p) not in plain]
    if plain and not ctx.out_of_budget():
        prompts = [chat_code_prompt(ctx.problem, system=p.system, instruction=p.instruction) for _, p in plain]
        samplings = [Sampling(temperature=p.temperature, top_p=0.95 if p.temperature > 0 else 1.0, max_tokens=cfg.max_tokens,
                              seed=cfg.seed * 1000 + i, logprobs=True) for i, p in plain]
        outs = ctx.generate_batch("divsampling", [p.name for _, p in plain], prompts, samplings)
        for (i, p), c in zip(plain, outs):
            _add(ctx, "div", extract_code(ctx.problem, c.text), c.completion_tokens, c.mean_logprob, f"{p.name}, T={p.temperature}")
        yield from ctx.flush()
    for i, p in forced:
        if ctx.out_of_budget():
            break
        msgs = chat_code_prompt(ctx.problem, system=p.system, instruction=p.instruction)
        fa = budget.forced_generate(ctx, "divsampling", f"{p.name} (budget {tier.name})", msgs, tier,
                                    Sampling(temperature=p.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed * 1000 + i))
        _add(ctx, "div", extract_code(ctx.problem, fa.text), fa.think_tokens + fa.code_tokens, None,
             f"{p.name}, reasoning {fa.think_tokens} tokens ({fa.mode}, {fa.extensions} extensions, "
             f"{'capped' if fa.capped else 'uncapped'})", meta={"budget": {"tier": tier.name, "think_tokens": fa.think_tokens,
                                                                          "extensions": fa.extensions, "capped": fa.capped, "mode": fa.mode}})
        yield from ctx.flush()


def _add(ctx: RunContext, origin: str, code: str, tokens: int, lp: float | None, plan: str, meta: dict | None = None) -> None:
    cand = Candidate(id=ctx.state.new_id(origin), code=code, origin=origin, plan=plan, completion_tokens=tokens,
                     mean_logprob=lp, meta=meta or {})
    ctx.state.candidates.append(cand)
    ctx.emit("candidate", "divsampling" if origin == "div" else origin, id=cand.id, origin=origin, plan=plan, tokens=tokens, code=code)


def _verify_public(ctx: RunContext, cands: list[Candidate]) -> None:
    todo = [c for c in cands if not c.public and ctx.problem.public_tests]
    if not todo:
        return
    if len(todo) == 1:
        todo[0].public = ctx.run_tests("verify", todo[0], ctx.problem.public_tests, "public")
        return
    with ThreadPoolExecutor(max_workers=min(len(todo), 8)) as pool:
        results = list(pool.map(lambda c: ctx.run_tests("verify", c, ctx.problem.public_tests, "public"), todo))
    for c, r in zip(todo, results):
        c.public = r


def _verify(ctx: RunContext) -> Iterator[Event]:
    _verify_public(ctx, ctx.state.candidates)
    yield from ctx.flush()


def _self_tests(ctx: RunContext) -> Iterator[Event]:
    if len({" ".join(c.code.split()) for c in ctx.state.candidates}) < 2:
        ctx.emit("self_tests", "self_tests", generated=0, kept=0, rule=selftests.RULE, tests=[],
                 note="fewer than two distinct candidates: no agreement possible")
        yield from ctx.flush()
        return
    yield from selftests.run(ctx)


def _lens(ctx: RunContext) -> Iterator[Event]:
    scorer = ctx.energy_scorer
    if scorer is None:
        try:
            from atlas_kernel.lens.scoring import default_scorer

            scorer = default_scorer(ctx.model)
        except ImportError:
            scorer = None
    cands = [c for c in ctx.state.candidates if c.energy is None]
    if scorer is None or not cands:
        ctx.emit("energy", "lens", energies={}, source="none: no trained lens for this model (log-probability breaks ties)")
        yield from ctx.flush()
        return
    emb = ctx.model.embed([c.code for c in cands])
    energies = scorer(ctx.problem, cands, emb)
    for c, e in zip(cands, energies):
        c.energy = float(e)
    ctx.emit("energy", "lens", energies={c.id: c.energy for c in cands}, source=getattr(scorer, "name", "lens"))
    yield from ctx.flush()


def _select(ctx: RunContext) -> Iterator[Event]:
    ranking, reason = select(ctx.state, ctx.config.selector)
    ctx.state.ranking, ctx.state.selection_reason = ranking, reason
    ctx.emit("selection", "select", ranking=ranking, chosen=ranking[0] if ranking else None, reason=reason,
             selector=ctx.config.selector)
    yield from ctx.flush()


def _sstar(ctx: RunContext) -> Iterator[Event]:
    yield from sstar.run(ctx)


def _repair(ctx: RunContext) -> Iterator[Event]:
    def verify(cands: list[Candidate]) -> None:
        _verify_public(ctx, cands)

    yield from repair.run(ctx, verify)
    if ctx.config.lens and any(c.energy is None for c in ctx.state.candidates) and ctx.energy_scorer is not None:
        yield from _lens(ctx)


def _final(ctx: RunContext) -> Iterator[Event]:
    state = ctx.state
    if state.stopped_early and state.candidates and not state.ranking:
        state.ranking = [state.candidates[0].id]
        state.selection_reason = state.stopped_early
    elif not state.ranking or any(c.id not in state.ranking for c in state.candidates):
        top = state.ranking[0] if state.ranking else None
        ranking, reason = select(state, ctx.config.selector)
        # keep an S* decision when the new candidates did not change the top score
        if top and top in ranking and _key(state, state.candidate(top)) >= _key(state, state.candidate(ranking[0])):
            ranking.remove(top)
            ranking.insert(0, top)
        state.ranking, state.selection_reason = ranking, reason
    chosen = state.candidate(state.ranking[0]) if state.ranking else None
    state.chosen = chosen.id if chosen else None
    state.solved_by = chosen.origin if chosen else None
    ctx.trace.candidates = [c.to_dict() for c in state.candidates]
    ctx.trace.self_tests = [t.__dict__.copy() for t in state.self_tests]
    ctx.emit("final", "final", candidate=state.chosen, code=chosen.code if chosen else "",
             public_passed=chosen.public_passed if chosen else 0, public_total=chosen.public_total if chosen else 0,
             reason=state.selection_reason or (state.stopped_early or ""))
    yield from ctx.flush()


def _key(state, c: Candidate) -> tuple[int, int]:
    return (c.public_passed, state.self_passed(c))


def _summary(ctx: RunContext, name: str) -> str:
    s = ctx.state
    if name in ("probe", "plansearch", "divsampling", "repair"):
        return f"({len(s.candidates)} candidates, {s.tokens_used} tokens)"
    if name == "self_tests":
        return f"({len(s.kept_self_tests)}/{len(s.self_tests)} kept)"
    if name == "select" and s.ranking:
        return f"(top: {s.ranking[0]})"
    return ""


def _solution(ctx: RunContext) -> Solution:
    s = ctx.state
    chosen = s.candidate(s.chosen) if s.chosen else None
    sol = Solution(problem_id=ctx.problem.id, code=chosen.code if chosen else "", candidate=s.chosen,
                   public_passed=chosen.public_passed if chosen else 0, public_total=chosen.public_total if chosen else 0,
                   solved_by=s.solved_by, stopped_early=s.stopped_early, tokens=s.tokens_used, wall_s=ctx.elapsed(),
                   phase_times=dict(s.phase_times), trace=ctx.trace)
    ctx.trace.result = sol.to_dict()
    return sol


_PHASE_FUNCS: dict[str, Callable[[RunContext], Iterator[Event]]] = {
    "route": _route, "probe": _probe, "plansearch": _plansearch, "divsampling": _divsampling, "verify": _verify,
    "self_tests": _self_tests, "lens": _lens, "select": _select, "sstar": _sstar, "repair": _repair, "final": _final,
}
