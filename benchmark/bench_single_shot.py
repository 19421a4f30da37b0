"""Single-shot HumanEval pass@1 (greedy) of the bundled models: the baseline every later phase
is measured against.

    .venv/bin/python benchmark/bench_single_shot.py [--models qwen-coder-0.5b,qwen-coder-1.5b,smollm2,gemma] [--every 1] [--max-tokens 512]

Each model is prompted in the style it is measured best with (SmolLM2: chat; Gemma base: raw
completion). The solver sees the Problem only; hidden tests grade the final program once.
Per-task rows go to benchmark/results/single_shot_<model>.jsonl (resumable: finished tasks are
skipped on a rerun), the summary to benchmark/results/single_shot.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from atlas_kernel.bench import append_result, read_results
from atlas_kernel.grading import grader_for
from atlas_kernel.models.registry import load_model, prompt_style
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.problems import load_suite

RESULTS = Path(__file__).parent / "results"


def run_model(name: str, tasks, max_tokens: int) -> dict:
    rows_path = RESULTS / f"single_shot_{name}.jsonl"
    done = read_results(rows_path)
    model = load_model(name)
    style = prompt_style(name, model)
    pipe = Pipeline(model, PipelineConfig.for_condition("A", max_tokens=max_tokens), style=style)  # the single shot
    t_start = time.perf_counter()
    for i, task in enumerate(tasks, 1):
        if task.id in done:
            continue
        res = pipe.run(task.problem)
        grade = grader_for(task).grade(res.code)
        row = {"task_id": task.id, "passed": grade.passed, "summary": grade.summary,
               "public_passed": res.public_passed, "public_total": res.public_total,
               "completion_tokens": res.tokens, "generate_s": res.trace.llm_calls[0]["elapsed_s"],
               "code": res.code}
        append_result(rows_path, row)
        done[task.id] = row
        print(f"[{name}] {i}/{len(tasks)} {task.id}: {grade.summary}  (solved so far "
              f"{sum(r['passed'] for r in done.values())}/{len(done)})", flush=True)
    rows = [done[t.id] for t in tasks]
    solved = sum(r["passed"] for r in rows)
    return {"model": name, "prompt_style": style, "tasks": len(rows), "solved": solved, "pass_at_1": solved / len(rows),
            "mean_completion_tokens": sum(r["completion_tokens"] for r in rows) / len(rows),
            "tokens_per_s": sum(r["completion_tokens"] for r in rows) / max(1e-9, sum(r["generate_s"] for r in rows)),
            "public_all_passed_and_hidden_passed": sum(1 for r in rows if r["public_total"] and r["public_passed"] == r["public_total"] and r["passed"]),
            "public_all_passed": sum(1 for r in rows if r["public_total"] and r["public_passed"] == r["public_total"]),
            "wall_s_this_run": time.perf_counter() - t_start}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="qwen-coder-0.5b")
    ap.add_argument("--every", type=int, default=1, help="every N-th task (1 = all 164)")
    ap.add_argument("--max-tokens", type=int, default=512)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    tasks = load_suite("humaneval")[:: args.every]
    summary = {"suite": "humaneval", "every": args.every, "max_tokens": args.max_tokens, "models": []}
    for name in args.models.split(","):
        s = run_model(name, tasks, args.max_tokens)
        summary["models"].append(s)
        print(f"{name}: {s['solved']}/{s['tasks']} = {s['pass_at_1']:.3f} pass@1 ({s['prompt_style']} prompt, "
              f"{s['tokens_per_s']:.0f} tok/s)")
    out = RESULTS / "single_shot.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
