"""`atlas solve`: load the model, solve one problem, print the solution and a short trace."""

from __future__ import annotations

import argparse
import json
import sys
import time

from atlas_kernel.errors import AtlasError
from atlas_kernel.problems.types import Problem


def run_solve(problem: Problem, args: argparse.Namespace) -> int:
    from atlas_kernel.models.base import Sampling
    from atlas_kernel.models.registry import load_model, prompt_style
    from atlas_kernel.pipeline.single_shot import solve_single

    condition = (args.condition or "A").upper()
    if condition not in ("A", "B", "C", "D", "E"):
        raise AtlasError(f"unknown condition {args.condition!r} — use A (single shot), B, C, D or E (all phases)")
    if condition != "A":
        from atlas_kernel.pipeline.runner import run_cli_pipeline

        args.condition = condition
        return run_cli_pipeline(problem, args)
    t0 = time.perf_counter()
    model = load_model(args.model)
    load_s = time.perf_counter() - t0
    style = prompt_style(args.model, model)
    sampling = Sampling(temperature=0.0, max_tokens=args.max_tokens or 512, seed=args.seed)
    result = solve_single(problem, model, style=style, sampling=sampling)
    if args.trace:
        with open(args.trace, "w", encoding="utf-8") as fh:
            json.dump({"problem": problem.to_dict(), "model": model.info(), "result": result.to_dict()}, fh, indent=2, default=str)
    if args.json:
        json.dump({"problem_id": problem.id, "model": model.info(), "condition": "A", "code": result.code,
                   "public_passed": result.public_passed, "public_total": len(result.public_verdicts),
                   "completion": result.completion.to_dict(), "timings": result.timings, "load_s": load_s},
                  sys.stdout, indent=2, default=str)
        print()
        return 0
    c = result.completion
    print(f"# problem {problem.id} ({problem.kind}), model {model.name}, condition A (single shot, {style} prompt)")
    print(result.code.rstrip())
    print("# --- trace ---")
    print(f"# load {load_s:.1f}s; generate {result.timings['generate_s']:.1f}s: {c.prompt_tokens} prompt + "
          f"{c.completion_tokens} generated tokens ({c.tokens_per_s:.0f} tok/s, finish: {c.finish_reason})")
    if result.public_verdicts:
        marks = " ".join("✓" if v["verdict"] == "passed" else v["verdict"] for v in result.public_verdicts)
        print(f"# public examples: {result.public_passed}/{len(result.public_verdicts)} passed [{marks}] "
              f"({result.timings['verify_s']:.2f}s in the sandbox)")
    else:
        print("# public examples: none given")
    return 0
