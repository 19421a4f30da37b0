"""The pipeline: phases run one at a time over a shared context, yielding events.

    pipe = Pipeline(model, PipelineConfig.for_condition("E"))
    solution = pipe.run(problem)                 # drain
    for event in pipe.events(problem): ...       # stream (CLI, magic)
    run = pipe.start(problem); run.step() ...    # one phase at a time (stepper widget); between
                                                 # steps run.edit_candidate / run.edit_self_test

The phases and their order are `phases.PHASES` (each skipped when its switch is off); the probe
ends the solve early when it passes every public example (and, with the router on, is
confident). Only a `Problem` is accepted: hidden tests cannot enter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from atlas_kernel.errors import AtlasError
from atlas_kernel.models.base import Model
from atlas_kernel.pipeline import phases as _phases
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.context import BudgetExhausted, EnergyScorer, RunContext
from atlas_kernel.pipeline.events import Event
from atlas_kernel.pipeline.phase import Phase
from atlas_kernel.pipeline.phases import self_tests as self_tests_phase
from atlas_kernel.pipeline.selectors import select
from atlas_kernel.pipeline.state import Candidate, SelfTest, SolveState
from atlas_kernel.pipeline.trace import Trace
from atlas_kernel.problems.types import Problem, require_problem

__all__ = ["PHASES", "Pipeline", "PipelineRun", "Solution"]

PHASES: tuple[str, ...] = _phases.PHASE_NAMES  # names in pipeline order (the Phase objects: phases.PHASES)


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
    # where the wall time went: wall_s, model_s, sandbox_s, other_s, with tokens, tok_s, prefill_tokens
    # (+ drafted/accepted tokens and acceptance_rate when drafting ran): RunContext.time_split
    time_split: dict[str, Any] = field(default_factory=dict)
    trace: Trace | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "trace"}


class PipelineRun:
    """One solve in progress. `step()` runs the next phase and returns its events.

    Between steps the run may be edited (`edit_candidate`, `edit_self_test`): the run re-verifies
    what the edit touched, re-ranks, and records a `user_edit` event, so front ends never write
    its state themselves."""

    def __init__(self, ctx: RunContext, phases: list[Phase]):
        self.ctx = ctx
        self._phases = phases
        self.index = 0  # phases run so far
        self.solution: Solution | None = None
        self.edits: list[dict[str, Any]] = []  # what edit_candidate / edit_self_test did, in order

    @property
    def phases(self) -> list[str]:
        return [p.name for p in self._phases]

    @property
    def state(self) -> SolveState:
        return self.ctx.state

    @property
    def trace(self) -> Trace:
        return self.ctx.trace

    @property
    def done(self) -> bool:
        return self.index >= len(self._phases)

    @property
    def next_phase(self) -> str | None:
        return None if self.done else self._phases[self.index].name

    @property
    def last_phase(self) -> str | None:
        return self._phases[self.index - 1].name if self.index else None

    def has_run(self, phase: str) -> bool:
        return phase in self.phases[: self.index]

    def stream(self) -> Iterator[Event]:
        """Events of the next phase as they happen."""
        if self.done:
            return
        phase = self._phases[self.index]
        name = phase.name
        self.index += 1
        ctx = self.ctx
        if ctx.state.stopped_early and name != "final":
            return
        if ctx.exhausted and phase.generative:
            return  # out of tokens/time: no new model work, but verify/select/final still run
        ctx.emit("phase_started", name, phase=name)
        yield from ctx.flush()
        t0 = time.perf_counter()
        mark = ctx.speed_mark()
        try:
            yield from phase.run(ctx)
        except BudgetExhausted as exc:
            ctx.exhausted = str(exc)
            ctx.emit("early_stop", name, reason=f"{exc}: remaining model phases skipped")
        if not ctx.exhausted and phase.generative and ctx.out_of_budget():
            ctx.exhausted = ctx.out_of_budget()
            ctx.emit("early_stop", name, reason=f"{ctx.exhausted}: remaining model phases skipped")
        dt = time.perf_counter() - t0
        ctx.state.phase_times[name] = ctx.state.phase_times.get(name, 0.0) + dt
        # a phase that called the model says its tokens, model seconds and tok/s (the stepper shows them)
        ctx.emit("phase_finished", name, phase=name, elapsed_s=dt, summary=phase.summary(ctx), **ctx.speed_since(mark))
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

    # -- verification and editing between steps -----------------------------------------------
    def verify_public(self, cands: list[Candidate], phase: str = "verify") -> list[Event]:
        """Public examples for candidates not checked yet; the events it recorded."""
        self.ctx.verify_public(cands, phase)
        return list(self.ctx.flush())

    def edit_candidate(self, cid: str, code: str, *, as_new: bool = False,
                       on_event: Callable[[Event], None] | None = None) -> Candidate:
        """Replace candidate `cid`'s code, or add the edit as a new `user` candidate. The edited
        candidate loses its verdicts, output and energy (nothing stale survives); if verification
        already ran it is re-verified at once and the ranking recomputed."""
        self._check_not_done()
        st = self.state
        old = st.candidate(cid)
        if as_new:
            cand = Candidate(id=st.new_id("user"), code=code, origin="user", plan=f"edited by hand from {cid}",
                             parent=cid, meta={"edited_from": cid})
            st.candidates.append(cand)
        else:
            cand = old
            cand.code = code
            cand.public = []
            cand.self_outputs = {}
            cand.energy = None
            cand.meta["edited"] = True
        self.ctx.emit("user_edit", "edit", candidate=cand.id, edited_from=cid, as_new=as_new, code=code)
        if self.index > 0 and self.ctx.problem.public_tests:
            cand.public = self.ctx.run_tests("edit", cand, self.ctx.problem.public_tests, "public")
        if st.self_tests:
            self_tests_phase.evaluate(self.ctx, [cand])
        self._rerank()
        self.edits.append({"kind": "candidate", "id": cand.id, "from": cid, "as_new": as_new,
                           "after_phase": self.last_phase})
        self._drain(on_event)
        return cand

    def edit_self_test(self, index: int | None, test_input: str, *,
                       on_event: Callable[[Event], None] | None = None) -> SelfTest:
        """Change self-test `index`'s input (None: add one); every candidate is re-run on it and
        the agreement rule re-applied."""
        self._check_not_done()
        st = self.state
        if "self_tests" in self.phases[self.index:]:
            raise AtlasError("self-tests are written in the self_tests phase — step past it first "
                             "(edits before it would be replaced by the generated ones)")
        if not test_input.strip():
            raise AtlasError("a self-test needs a non-empty input")
        stdio = self.ctx.problem.kind == "stdio"
        text = test_input if test_input.endswith("\n") or not stdio else test_input + "\n"
        if index is None:
            st.self_tests.append(SelfTest(input=text, source="user"))
            index = len(st.self_tests) - 1
        else:
            t = st.self_tests[index]
            t.input, t.source, t.model_expected = text, "user", None
            for c in st.candidates:  # this column is stale for everyone
                c.self_outputs.pop(index, None)
        self_tests_phase.evaluate(self.ctx, st.candidates)
        self.ctx.emit("user_edit", "edit", self_test=index, input=text)
        self._rerank()
        self.edits.append({"kind": "self_test", "index": index})
        self._drain(on_event)
        return st.self_tests[index]

    def _rerank(self) -> None:
        st = self.state
        if st.ranking:
            st.ranking, st.selection_reason = select(st, self.ctx.config.selector)
            st.selection_reason += " (re-ranked after an edit)"

    def _drain(self, on_event: Callable[[Event], None] | None) -> None:
        # events emitted between phases are in the trace already; take them out of the outbox so
        # the next phase's stream does not replay them
        for ev in self.ctx.flush():
            if on_event is not None:
                on_event(ev)

    def _check_not_done(self) -> None:
        # after `final` the solution is fixed; an edit would silently disagree with it
        if self.done:
            raise AtlasError("the run is finished — press Reset (or call reset()) to edit and run again")


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
        ctx = RunContext(problem, self.model, cfg, style=self.style, sandbox=self.sandbox, energy_scorer=self.energy_scorer)
        return PipelineRun(ctx, [p for p in _phases.PHASES if p.enabled(cfg)])

    def events(self, problem: Problem) -> Iterator[Event]:
        run = self.start(problem)
        yield from run

    def run(self, problem: Problem, on_event: Callable[[Event], None] | None = None) -> Solution:
        run = self.start(problem)
        for ev in run:
            if on_event:
                on_event(ev)
        assert run.solution is not None
        return run.solution


def _solution(ctx: RunContext) -> Solution:
    s = ctx.state
    chosen = s.candidate(s.chosen) if s.chosen else None
    sol = Solution(problem_id=ctx.problem.id, code=chosen.code if chosen else "", candidate=s.chosen,
                   public_passed=chosen.public_passed if chosen else 0, public_total=chosen.public_total if chosen else 0,
                   solved_by=s.solved_by, stopped_early=s.stopped_early, tokens=s.tokens_used, wall_s=ctx.elapsed(),
                   phase_times=dict(s.phase_times), time_split=ctx.time_split(), trace=ctx.trace)
    ctx.trace.result = sol.to_dict()
    return sol
