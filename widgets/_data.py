"""One read model over a live `PipelineRun` and a saved `Trace`, so every view renders both.

A live run keeps candidates and self-tests in `run.state` (mutable between steps); a trace stores
them as dicts once the run finished. A trace saved before its `final` phase has no candidate
list, so candidates are rebuilt from its `candidate` and `test_run` events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from atlas_kernel.pipeline.checks import verdict_from_dict
from atlas_kernel.pipeline.state import Candidate, SelfTest
from atlas_kernel.pipeline.trace import Trace


@dataclass
class RunView:
    trace: Trace
    candidates: list[Candidate]
    self_tests: list[SelfTest]
    ranking: list[str] = field(default_factory=list)
    chosen: str | None = None
    live: bool = False

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def of(cls, source: Any) -> "RunView":
        """A view of a PipelineRun, a Trace, a Solution (its trace) or a RunView."""
        if isinstance(source, RunView):
            return source
        if isinstance(source, Trace):
            return cls.from_trace(source)
        if hasattr(source, "ctx") and hasattr(source, "state"):  # PipelineRun
            st = source.state
            return cls(trace=source.trace, candidates=st.candidates, self_tests=st.self_tests,
                       ranking=list(st.ranking), chosen=st.chosen, live=True)
        trace = getattr(source, "trace", None)
        if isinstance(trace, Trace):
            return cls.from_trace(trace)
        raise TypeError(f"cannot show {type(source).__name__}: give a PipelineRun, Trace or Solution")

    @classmethod
    def from_trace(cls, trace: Trace) -> "RunView":
        if trace.candidates:
            cands = [Candidate.from_dict(c) for c in trace.candidates]
        else:
            cands = _candidates_from_events(trace)
        tests = [SelfTest(**t) for t in trace.self_tests]
        ranking: list[str] = []
        for ev in trace.events:
            if ev.kind == "selection":
                ranking = list(ev.data.get("ranking", []))
        chosen = trace.result.get("candidate") if trace.result else None
        return cls(trace=trace, candidates=cands, self_tests=tests, ranking=ranking, chosen=chosen)

    # -- queries -------------------------------------------------------------------------------
    def candidate(self, cid: str) -> Candidate:
        for c in self.candidates:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def self_passed(self, c: Candidate) -> int:
        return sum(1 for i, t in enumerate(self.self_tests) if t.kept and c.self_outputs.get(i) == t.expected)

    @property
    def kept_self_tests(self) -> int:
        return sum(1 for t in self.self_tests if t.kept)

    def test_runs(self, cid: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.trace.test_runs if cid is None or r["candidate"] == cid]

    def events(self, kind: str | None = None) -> list[Any]:
        return [e for e in self.trace.events if kind is None or e.kind == kind]

    def repairs(self) -> list[tuple[str, str]]:
        """(parent, child) pairs: from candidates' `parent` fields, else from repair events."""
        pairs = [(c.parent, c.id) for c in self.candidates if c.parent]
        if not pairs:
            pairs = [(e.data["parent"], e.data["candidate"]) for e in self.events("repair") if e.data.get("candidate")]
        return pairs

    def energies(self) -> dict[str, float]:
        out = {c.id: c.energy for c in self.candidates if c.energy is not None}
        for e in self.events("energy"):
            for k, v in e.data.get("energies", {}).items():
                out.setdefault(k, v)
        return out

    def status(self, c: Candidate) -> str:
        """passed | failed | unverified (public examples)."""
        if not c.public:
            return "unverified"
        return "passed" if c.public_passed == c.public_total else "failed"


def _candidates_from_events(trace: Trace) -> list[Candidate]:
    cands: dict[str, Candidate] = {}
    for ev in trace.events:
        d = ev.data
        if ev.kind == "candidate":
            cands[d["id"]] = Candidate(id=d["id"], code=d.get("code", ""), origin=d.get("origin", "?"),
                                       plan=d.get("plan", ""), completion_tokens=d.get("tokens", 0))
        elif ev.kind == "repair" and d.get("candidate") in cands:
            cands[d["candidate"]].parent = d.get("parent")
        elif ev.kind == "energy":
            for k, v in d.get("energies", {}).items():
                if k in cands:
                    cands[k].energy = v
    for run in trace.test_runs:
        c = cands.get(run["candidate"])
        if c is not None and run["suite"] == "public":
            c.public = [verdict_from_dict(v) for v in run["verdicts"]]
    return list(cands.values())
