"""The event stream every front end renders (CLI, magic, widgets): one shape for all events.

kind             data
phase_started    {"phase"}
phase_finished   {"phase", "elapsed_s", "summary"}
route            {"path": "fast"|"full", "reason", "tier", "signals"}
llm_call         {"id", "purpose", "prompt_tokens", "completion_tokens", "elapsed_s"} (+ "drafted_tokens",
                 "accepted_tokens", "acceptance_rate", "draft" when speculative decoding ran)
candidate        {"id", "origin", "plan", "tokens", "code"}
test_run         {"candidate", "suite": "public"|"self", "passed", "total", "verdicts"}
self_tests       {"tests": [...], "rule", "generated", "kept"}
energy           {"energies": {candidate: value}, "source"}
selection        {"ranking": [...], "chosen", "reason", "selector"}
sstar            {"a", "b", "inputs", "outputs", "winner", "reason"}
repair           {"round", "perspective", "parent", "candidate"}
second_opinion   {"candidate", "public_passed", "public_total", "inputs", "differ"} (a passing probe's check)
early_stop       {"reason"}
final            {"candidate", "code", "public_passed", "public_total", "reason"}
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Event:
    kind: str
    phase: str
    data: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Event":
        return cls(kind=d["kind"], phase=d["phase"], data=d.get("data", {}), t=d.get("t", 0.0))

    def describe(self) -> str:
        """One human line, used by the CLI's plain output and the notebook's log."""
        d = self.data
        if self.kind == "phase_started":
            return f"[{self.phase}] started"
        if self.kind == "phase_finished":
            return f"[{self.phase}] done in {d.get('elapsed_s', 0):.1f}s {d.get('summary', '')}".rstrip()
        if self.kind == "route":
            return f"[router] {d['path']} path ({d['reason']}); tier {d.get('tier')}"
        if self.kind == "llm_call":
            rate = d["completion_tokens"] / d["elapsed_s"] if d.get("elapsed_s") else 0
            drafts = (f", {d['accepted_tokens']}/{d['drafted_tokens']} drafted tokens accepted"
                      if d.get("drafted_tokens") else "")
            return f"[{self.phase}] model: {d['purpose']} — {d['completion_tokens']} tokens ({rate:.0f} tok/s{drafts})"
        if self.kind == "candidate":
            return f"[{self.phase}] candidate {d['id']} from {d['origin']} ({d.get('tokens', 0)} tokens)"
        if self.kind == "test_run":
            return f"[{self.phase}] {d['candidate']}: {d['passed']}/{d['total']} {d['suite']} tests passed"
        if self.kind == "self_tests":
            return f"[{self.phase}] self-tests: kept {d['kept']} of {d['generated']} generated inputs"
        if self.kind == "energy":
            return f"[{self.phase}] energies ({d.get('source')}): " + ", ".join(f"{k}={v:.3f}" for k, v in d["energies"].items())
        if self.kind == "selection":
            return f"[{self.phase}] chose {d['chosen']} ({d['reason']})"
        if self.kind == "sstar":
            return f"[{self.phase}] S* {d['a']} vs {d['b']}: winner {d.get('winner')} ({d.get('reason')})"
        if self.kind == "repair":
            return f"[{self.phase}] round {d['round']} {d['perspective']}: {d['parent']} -> {d['candidate']}"
        if self.kind == "second_opinion":
            return (f"[{self.phase}] second opinion {d['candidate']}: {d['public_passed']}/{d['public_total']} public, "
                    f"differs from the probe on {d['differ']}/{d['inputs']} mutated inputs")
        if self.kind == "early_stop":
            return f"[{self.phase}] stop early: {d['reason']}"
        if self.kind == "final":
            return f"[final] {d['candidate']}: {d['public_passed']}/{d['public_total']} public examples ({d['reason']})"
        return f"[{self.phase}] {self.kind}"
