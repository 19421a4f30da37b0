"""`atlas solve`: load the model, run the pipeline on one problem (condition E unless told; A is the
single shot, the probe phase alone), show live progress, print the solution and a short trace."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.problems.types import Problem


def config_from_args(args: argparse.Namespace) -> Any:
    """The PipelineConfig for `atlas solve`'s options (the same rule as the magic's)."""
    from atlas_kernel.pipeline.config import PipelineConfig

    try:
        return PipelineConfig.from_options(args.condition, seed=args.seed, k=args.k, max_tokens=args.max_tokens or None,
                                           selector=args.selector)
    except ValueError as exc:
        raise AtlasError(str(exc)) from None


def run_solve(problem: Problem, args: argparse.Namespace) -> int:
    from atlas_kernel import session
    from atlas_kernel.cli.progress_lines import ProgressPrinter
    from atlas_kernel.pipeline.events import time_split_text
    from atlas_kernel.pipeline.pipeline import Pipeline

    config = config_from_args(args)
    t0 = time.perf_counter()
    model = session.get_model(args.model)  # the magic's loader too: one model resolution for both front ends
    load_s = time.perf_counter() - t0
    style = session.prompt_style_for(args.model, model)
    pipe = Pipeline(model, config, style=style)
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
    print(f"# problem {problem.id} ({problem.kind}), model {model.name}, condition {config.condition} ({style} prompt)")
    print(solution.code.rstrip())
    print("# --- trace ---")
    times = ", ".join(f"{k} {v:.1f}s" for k, v in solution.phase_times.items() if v >= 0.05)
    print(f"# chosen {solution.candidate} (from {solution.solved_by}); public examples {solution.public_passed}/"
          f"{solution.public_total}; {solution.tokens} tokens generated; load {load_s:.1f}s; {solution.wall_s:.1f}s ({times})")
    split = time_split_text(solution.time_split)
    if split:
        print(f"# time: {split}")
    if solution.stopped_early:
        print(f"# stopped early: {solution.stopped_early}")
    if args.trace:
        print(f"# trace written to {args.trace}")
    return 0
