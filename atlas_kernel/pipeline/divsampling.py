"""DivSampling: vary role, instruction style and temperature across candidates.

The table below is the whole perturbation space. Candidate i of a run takes row
`(seed + i) mod len(TABLE)` (deterministic from the seed), so a rerun with the same seed asks
the same questions. Temperatures stay low: with models of this size, samples above ~0.5 are
mostly broken (measured: pass@1 at T=0.8 was a third of greedy for SmolLM2-135M on HumanEval),
so variety comes from the prompt more than from the sampler.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Perturbation:
    name: str
    system: str | None
    instruction: str
    temperature: float


TABLE: tuple[Perturbation, ...] = (
    Perturbation("plain", None, "Return the whole solution in one ```python code block.", 0.0),
    Perturbation("expert", "You are an expert Python programmer who writes correct, simple code.",
                 "Return the whole solution in one ```python code block.", 0.2),
    Perturbation("careful", "You are a careful programmer. You check edge cases such as empty inputs.",
                 "Handle every edge case. Return the whole solution in one ```python code block.", 0.3),
    Perturbation("stepwise", None,
                 "First think about the steps in a short list, then write the whole solution in one ```python code block.", 0.3),
    Perturbation("simple", "You write the shortest correct Python code.",
                 "Use a simple loop. Return the whole solution in one ```python code block.", 0.4),
    Perturbation("teacher", "You are a patient teacher of Python.",
                 "Write a clear solution in one ```python code block.", 0.5),
)


def perturbations(n: int, seed: int) -> list[Perturbation]:
    return [TABLE[(seed + i) % len(TABLE)] for i in range(n)]
