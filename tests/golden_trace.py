"""The golden trace: a scripted-model solve with the real sandbox, normalised, compared exactly.

`tests/test_pipeline_golden.py` compares a fresh run with `tests/golden/*.json`. The pipeline's
behaviour is pinned by these files: a refactor must leave them byte-identical. To rewrite them on
purpose (a behaviour change, said in the commit):

    .venv/bin/python tests/golden_trace.py --write
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # run as a script: frontend_helpers sits beside it

from frontend_helpers import RIGHT, WRONG, responder  # noqa: E402

# plan implementations differ from the other Phase-1 programs, so S* has two different programs to separate
MIN = "```python\nn = int(input())\nxs = list(map(int, input().split()))\nprint(min(xs))\n```"

GOLDEN_DIR = Path(__file__).parent / "golden"
# condition -> config overrides; E runs every phase (router, budget forcing, self-tests, Lens, repair),
# C two different programs tied on everything checkable, so S* separates them and the model judges
CASES: dict[str, dict[str, Any]] = {"E": {}, "C": {"k": 2, "n_plans": 1, "self_tests": False}}
PROBLEM = "example:sum_of_list"
SEED = 3

# what legitimately differs between two runs of the same solve: clocks, durations, sandbox paths and pids
_VOLATILE_KEYS = {"t", "elapsed_s", "wall_s", "phase_times", "phase_s", "time_split",
                  # speed: seconds and rates (token counts stay, they are the behaviour)
                  "decode_s", "prefill_s", "tokens_per_s", "model_s", "tok_s", "solve_model_s", "solve_tok_s"}
_PATHS = re.compile(r"(/tmp|/var/tmp|/dev/shm)/[^\s'\"]*")
_PIDS = re.compile(r"\bpid[ =:]\s*\d+", re.IGNORECASE)


def _by_candidate(rows: list[Any], is_check) -> list[Any]:
    """Parallel verification records its test runs in completion order: sort each consecutive run
    of test-run records by candidate, so the order threads finished in does not count."""
    out: list[Any] = []
    i = 0
    while i < len(rows):
        j = i
        while j < len(rows) and is_check(rows[j]) and rows[j].get("phase") == rows[i].get("phase"):
            j += 1
        if j > i:
            out += sorted(rows[i:j], key=lambda r: json.dumps(r, sort_keys=True, default=str))
            i = j
        else:
            out.append(rows[i])
            i += 1
    return out


def normalise_trace(trace: dict[str, Any]) -> dict[str, Any]:
    trace = normalise(trace)
    trace["events"] = _by_candidate(trace["events"], lambda e: e["kind"] == "test_run")
    trace["test_runs"] = _by_candidate(trace["test_runs"], lambda r: True)
    return trace


_REPO = str(Path(__file__).resolve().parents[1])


def normalise(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: normalise(v) for k, v in obj.items() if k not in _VOLATILE_KEYS}
    if isinstance(obj, list):
        return [normalise(v) for v in obj]
    if isinstance(obj, str):
        # the checkout's own location varies (clones, worktrees, CI)
        return _PIDS.sub("pid N", _PATHS.sub("<tmp>", obj.replace(_REPO, "<repo>")))
    return obj


def energy_by_embedding(problem, cands, emb):
    """A deterministic stand-in for a trained Lens: the first embedding coordinate (the scripted
    model's embeddings are a hash of the code), so the Lens phase and its re-scoring after repair run."""
    return [float(row[0]) for row in emb]


def solve(condition: str) -> dict[str, Any]:
    from atlas_kernel.models.scripted import ScriptedModel
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.pipeline import Pipeline
    from atlas_kernel.problems import load_problem

    # the probe is wrong, Phase 1 offers wrong programs, repair fixes: every phase has work to do
    base = responder(probe=WRONG, repair=RIGHT)

    def answer(prompt, sampling):
        text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
        if "Follow this plan" in text:
            return MIN
        if "could give different answers" in text:
            return "```\n3\n1 2 3\n```"  # min and max differ here
        return base(prompt, sampling)

    model = ScriptedModel(answer)
    config = PipelineConfig.for_condition(condition, seed=SEED, **CASES[condition])
    pipe = Pipeline(model, config, style="chat", energy_scorer=energy_by_embedding)
    solution = pipe.run(load_problem(PROBLEM))
    assert solution.trace is not None
    return normalise_trace(solution.trace.to_dict())


def golden_path(condition: str) -> Path:
    return GOLDEN_DIR / f"scripted_{condition}.json"


def dumps(trace: dict[str, Any]) -> str:
    return json.dumps(trace, indent=1, sort_keys=True, default=str) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: golden_trace.py --write   (rewrites tests/golden/*.json from this code)")
    GOLDEN_DIR.mkdir(exist_ok=True)
    for cond in CASES:
        golden_path(cond).write_text(dumps(solve(cond)), encoding="utf-8")
        print(f"wrote {golden_path(cond)}")
