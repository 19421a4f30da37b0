"""Front-end glue for the CLI: run the pipeline on one problem and render its event stream.

On a terminal, progress is one status line rewritten in place (phase, candidates so far, tokens,
tokens/s); when piped, each event is one plain line. Either way the solution and a short trace
summary follow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TextIO

from atlas_kernel.pipeline.events import Event
from atlas_kernel.problems.types import Problem


class ProgressPrinter:
    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.phase = ""
        self.candidates = 0
        self.tokens = 0
        self.gen_s = 0.0
        self._width = 0

    def __call__(self, ev: Event) -> None:
        d = ev.data
        if ev.kind == "phase_started":
            self.phase = ev.phase
        elif ev.kind == "candidate":
            self.candidates += 1
        elif ev.kind == "llm_call":
            self.tokens += d.get("completion_tokens", 0)
            self.gen_s += d.get("elapsed_s", 0.0)
        if not self.live:
            if ev.kind not in ("phase_started",):
                print(ev.describe(), file=self.stream, flush=True)
            return
        rate = self.tokens / self.gen_s if self.gen_s else 0.0
        line = f"[{self.phase}] candidates {self.candidates}, {self.tokens} tokens ({rate:.0f} tok/s)"
        if ev.kind in ("selection", "final", "early_stop", "route", "sstar", "self_tests"):
            self._clear()
            print(ev.describe(), file=self.stream, flush=True)
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def _clear(self) -> None:
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0

    def close(self) -> None:
        self._clear()


def run_cli_pipeline(problem: Problem, args: argparse.Namespace) -> int:
    from atlas_kernel.models.registry import load_model, prompt_style
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.pipeline import Pipeline

    overrides = {"seed": args.seed}
    if args.max_tokens:
        overrides["max_tokens"] = args.max_tokens
    for name in ("k", "selector"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    config = PipelineConfig.for_condition(args.condition or "E", **overrides)
    t0 = time.perf_counter()
    model = load_model(args.model)
    load_s = time.perf_counter() - t0
    pipe = Pipeline(model, config, style=prompt_style(args.model, model))
    printer = ProgressPrinter(live=None if not args.json else False)
    try:
        solution = pipe.run(problem, on_event=printer if not args.json else None)
    finally:
        printer.close()
    if args.trace:
        solution.trace.save(args.trace)
    if args.json:
        out = solution.to_dict()
        out.update({"model": model.info(), "condition": config.condition, "load_s": load_s})
        json.dump(out, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"# problem {problem.id} ({problem.kind}), model {model.name}, condition {config.condition}")
    print(solution.code.rstrip())
    print("# --- trace ---")
    times = ", ".join(f"{k} {v:.1f}s" for k, v in solution.phase_times.items() if v >= 0.05)
    print(f"# chosen {solution.candidate} (from {solution.solved_by}); public examples {solution.public_passed}/"
          f"{solution.public_total}; {solution.tokens} tokens generated; {solution.wall_s:.1f}s ({times})")
    if solution.stopped_early:
        print(f"# stopped early: {solution.stopped_early}")
    if args.trace:
        print(f"# trace written to {args.trace}")
    return 0
