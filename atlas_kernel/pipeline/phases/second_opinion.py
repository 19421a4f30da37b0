"""The evidence a passing probe needs before it may end a solve (a helper of the probe phase).

Measured on all 164 HumanEval tasks with Qwen2.5-Coder-0.5B (benchmark/bench_early_stop.py,
results/early_stop_qwen05_all_A.json): a probe that passes every public example is wrong on the
hidden tests 5 times in 84; its mean log-probability does not separate those 5 (no threshold
from -0.35 to -0.05 removes one), nor does the number of examples. Asking DivSampling's greedy
row (a different prompt) for a second program, and stopping only when it passes the examples
too and both programs print the same on inputs mutated from the public ones, stops on 67 tasks
with 3 wrong. The second program is no waste when the solve goes on: it is DivSampling's
candidate for that row, so DivSampling does not generate that row again.

A raw-completion model has no second prompt to ask; its probe stops on the public examples alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atlas_kernel.pipeline.phases.self_test_mutations import mutated_inputs
from atlas_kernel.pipeline.state import Candidate

if TYPE_CHECKING:
    from atlas_kernel.pipeline.context import RunContext

N_MUTATIONS = 8  # inputs the two programs must agree on (the study's setting)


def second_opinion(ctx: "RunContext", probe: Candidate) -> tuple[bool, str]:
    """(stop?, why) for a probe that passed every public example."""
    from atlas_kernel.pipeline.phases import divsampling

    if ctx.style != "chat":
        return True, "raw-completion model: the public examples decide"
    if ctx.out_of_budget():
        return True, "no budget left for a second opinion"
    second = divsampling.generate_greedy_row(ctx, phase="probe")
    ctx.verify_public([second], phase="probe")
    if second.public_passed < second.public_total:
        return False, (f"a second program ({second.id}, {second.plan}) passed {second.public_passed}/"
                       f"{second.public_total} public examples")
    inputs = mutated_inputs(ctx.problem, N_MUTATIONS, seed=ctx.config.seed)
    outs = ctx.collect_outputs([probe.code, second.code], inputs)
    differ = sum(a != b for a, b in zip(*outs))
    ctx.emit("second_opinion", "probe", candidate=second.id, public_passed=second.public_passed,
             public_total=second.public_total, inputs=len(inputs), differ=differ)
    if differ:
        return False, f"a second program ({second.id}) disagrees with the probe on {differ}/{len(inputs)} mutated inputs"
    return True, (f"a second program ({second.id}) passes them too and agrees on {len(inputs)} mutated inputs"
                  if inputs else f"a second program ({second.id}) passes them too")


__all__ = ["N_MUTATIONS", "second_opinion"]
