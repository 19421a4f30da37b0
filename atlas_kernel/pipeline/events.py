"""The event stream every front end renders (CLI, magic, widgets): one shape for all events.

kind             data
phase_started    {"phase"}
phase_finished   {"phase", "elapsed_s", "summary"} (+ "tokens", "model_s", "tok_s" when the phase called the
                 model, and "drafted_tokens", "accepted_tokens", "acceptance_rate" when it drafted)
route            {"path": "fast"|"full", "reason", "tier", "signals"}
llm_call         {"id", "purpose", "prompt_tokens", "completion_tokens", "elapsed_s", "decode_s", "tokens_per_s",
                 "prefill_tokens" (prompt tokens evaluated), "solve_tokens", "solve_model_s", "solve_tok_s" (the
                 solve so far; a batch counts once)} (+ "prefill_s" where the backend reports it; "drafted_tokens",
                 "accepted_tokens", "acceptance_rate", "draft", "solve_acceptance" when speculative decoding ran)
candidate        {"id", "origin", "plan", "tokens", "code"}
test_run         {"candidate", "suite": "public"|"self", "passed", "total", "verdicts"}
self_tests       {"tests": [...], "rule", "generated", "kept"}
energy           {"energies": {candidate: value}, "source"}
selection        {"ranking": [...], "chosen", "reason", "selector"}
sstar            {"a", "b", "inputs", "outputs", "winner", "reason"}
repair           {"round", "perspective", "parent", "candidate"} (candidate None: the answer was dropped,
                 with "dropped" saying why and "explanation" the model's analysis)
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
            speed = f": {d['tokens']} tokens at {speed_text(d['tok_s'], d.get('acceptance_rate'))}" if "tok_s" in d else ""
            return f"[{self.phase}] done in {d.get('elapsed_s', 0):.1f}s{speed} {d.get('summary', '')}".rstrip()
        if self.kind == "route":
            return f"[router] {d['path']} path ({d['reason']}); tier {d.get('tier')}"
        if self.kind == "llm_call":
            # traces recorded before tokens_per_s: the call's tokens over its whole time
            rate = d.get("tokens_per_s", d["completion_tokens"] / d["elapsed_s"] if d.get("elapsed_s") else 0)
            drafts = (f", {d['accepted_tokens']}/{d['drafted_tokens']} drafted tokens accepted"
                      if d.get("drafted_tokens") else "")
            return f"[{self.phase}] model: {d['purpose']} — {d['completion_tokens']} tokens ({rate:.0f} tok/s{drafts})"
        if self.kind == "candidate":
            return f"[{self.phase}] candidate {d['id']} from {d['origin']} ({d.get('tokens', 0)} tokens)"
        if self.kind == "test_run":
            return f"[{self.phase}] {d['candidate']}: {d['passed']}/{d['total']} {d['suite']} tests passed"
        if self.kind == "self_tests":
            again = " (decided again with the new candidates)" if d.get("redecided") else ""
            return f"[{self.phase}] self-tests: kept {d['kept']} of {d['generated']} generated inputs{again}"
        if self.kind == "energy":
            return f"[{self.phase}] energies ({d.get('source')}): " + ", ".join(f"{k}={v:.3f}" for k, v in d["energies"].items())
        if self.kind == "selection":
            return f"[{self.phase}] chose {d['chosen']} ({d['reason']})"
        if self.kind == "sstar":
            return f"[{self.phase}] S* {d['a']} vs {d['b']}: winner {d.get('winner')} ({d.get('reason')})"
        if self.kind == "repair":
            outcome = d["candidate"] if d.get("candidate") else f"dropped: {d.get('dropped')}"
            return f"[{self.phase}] round {d['round']} {d['perspective']}: {d['parent']} -> {outcome}"
        if self.kind == "second_opinion":
            return (f"[{self.phase}] second opinion {d['candidate']}: {d['public_passed']}/{d['public_total']} public, "
                    f"differs from the probe on {d['differ']}/{d['inputs']} mutated inputs")
        if self.kind == "early_stop":
            return f"[{self.phase}] stop early: {d['reason']}"
        if self.kind == "final":
            return f"[final] {d['candidate']}: {d['public_passed']}/{d['public_total']} public examples ({d['reason']})"
        return f"[{self.phase}] {self.kind}"


def speed_text(tok_s: float, acceptance: float | None = None) -> str:
    """"41 tok/s", and the drafts' acceptance only when drafting ran: one wording for every front end."""
    return f"{tok_s:.0f} tok/s" + (f", {acceptance:.0%} of drafts accepted" if acceptance is not None else "")


def time_split_text(split: dict[str, Any], tokens: int | None = None) -> str:
    """Where a solve's wall time went, in one line ("" for results recorded before the split was):
    model (prefill + decode) with its tok/s, sandbox, other. `tokens` serves splits that predate
    their own token total."""
    if "model_s" not in split:
        return ""
    model_s = split["model_s"]
    rate = split.get("tok_s")
    if rate is None:
        n = split.get("tokens", tokens)
        rate = n / model_s if n is not None and model_s > 0 else None
    speed = f" ({speed_text(rate, split.get('acceptance_rate'))})" if rate else ""
    return (f"model {model_s:.1f}s{speed}, sandbox {split.get('sandbox_s', 0.0):.1f}s, "
            f"other {split.get('other_s', 0.0):.1f}s of {split.get('wall_s', 0.0):.1f}s")


class SpeedTally:
    """The solve's tok/s so far (and the drafts' acceptance when drafting ran), read from its
    llm_call events: the pipeline's own figures, or for traces recorded before it reported
    them, the calls' tokens over their times added up."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.acceptance: float | None = None
        self._tokens, self._secs, self._drafted, self._accepted = 0, 0.0, 0, 0

    def add(self, ev: Event) -> None:
        if ev.kind != "llm_call":
            return
        d = ev.data
        self._tokens += d.get("completion_tokens", 0)
        self._secs += d.get("elapsed_s", 0.0)
        self._drafted += d.get("drafted_tokens", 0)
        self._accepted += d.get("accepted_tokens", 0)
        if "solve_tok_s" in d:  # a batch's time counted once
            self.rate, self.acceptance = d["solve_tok_s"], d.get("solve_acceptance")
        else:
            self.rate = self._tokens / self._secs if self._secs else 0.0
            self.acceptance = self._accepted / self._drafted if self._drafted else None

    def text(self) -> str:
        return speed_text(self.rate, self.acceptance)
