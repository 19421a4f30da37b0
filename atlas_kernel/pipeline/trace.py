"""A `Trace` holds everything one solve did: every prompt and completion, every test run, every
event, timings and token counts. It saves to JSON and replays without the model: the recorded
events re-render in any front end, and selection can be re-scored offline from the recorded
test outcomes (e.g. another selector on the same candidates)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from atlas_kernel.errors import AtlasError
from atlas_kernel.pipeline.conditions import DEFAULT_SELECTOR
from atlas_kernel.pipeline.events import Event

TRACE_VERSION = 1


@dataclass
class Trace:
    problem: dict[str, Any]
    config: dict[str, Any]
    model: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)  # prompt, completion, tokens, timing, phase
    test_runs: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    self_tests: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)

    def prompts(self) -> list[str]:
        """Every prompt text sent to the model (chat messages flattened)."""
        out = []
        for call in self.llm_calls:
            p = call["prompt"]
            out.append(p if isinstance(p, str) else "\n".join(m["content"] for m in p))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"version": TRACE_VERSION, "problem": self.problem, "config": self.config, "model": self.model,
                "events": [e.to_dict() for e in self.events], "llm_calls": self.llm_calls,
                "test_runs": self.test_runs, "candidates": self.candidates, "self_tests": self.self_tests,
                "result": self.result}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, default=str), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trace":
        if d.get("version") != TRACE_VERSION:
            raise AtlasError(f"trace version {d.get('version')!r} is not {TRACE_VERSION} — re-record it with this atlas_kernel")
        return cls(problem=d["problem"], config=d["config"], model=d["model"],
                   events=[Event.from_dict(e) for e in d["events"]], llm_calls=d["llm_calls"],
                   test_runs=d["test_runs"], candidates=d["candidates"], self_tests=d["self_tests"], result=d["result"])

    @classmethod
    def load(cls, path: str | Path) -> "Trace":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise AtlasError(f"cannot read trace {path} ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise AtlasError(f"trace {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data)

    def replay(self) -> Iterator[Event]:
        """The recorded events, in order, without a model."""
        yield from self.events

    def rescore(self, selector: str = DEFAULT_SELECTOR) -> dict[str, Any]:
        """Selection re-run offline on the recorded candidates and self-tests."""
        from atlas_kernel.pipeline.selectors import select
        from atlas_kernel.pipeline.state import Candidate, SelfTest, SolveState
        from atlas_kernel.problems.types import Problem

        state = SolveState(Problem.from_dict(self.problem))
        state.candidates = [Candidate.from_dict(c) for c in self.candidates]
        state.self_tests = [SelfTest(**t) for t in self.self_tests]
        ranking, reason = select(state, selector)
        return {"selector": selector, "ranking": ranking, "chosen": ranking[0] if ranking else None, "reason": reason}
