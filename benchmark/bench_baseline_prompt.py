"""Which single-shot prompt is the fair baseline for a chat coder model: ours, or the one its authors
evaluate with? HumanEval, greedy, one generation per task, hidden tests graded once.

    .venv/bin/python benchmark/bench_baseline_prompt.py [--model qwen-coder-0.5b] [--variants ours,evalplus]
                                                        [--every 1] [--max-tokens 1024] [--threads N]

Variants (all through the model's own chat template, default system prompt):
  ours           the pipeline's probe prompt: "Complete the following Python function: ```python <prompt>```
                 Return the whole solution in one ```python code block."
  evalplus       the instruct prompt of evalplus / the Qwen2.5-Coder report: "Please provide a
                 self-contained Python script that solves the following problem in a markdown code
                 block:" + the prompt, and the assistant turn begun with "Below is a Python script with
                 a self-contained function that solves the problem and passes corresponding tests:
                 ```python" (the model continues the code block)
  evalplus_plain the same user turn without the begun assistant turn
A budget of --max-tokens (default 1024) keeps truncation out of the comparison; each row records
whether the generation hit it. Rows: benchmark/results/baseline_prompt_<model>_<variant>.jsonl
(resumable), summary: benchmark/results/baseline_prompt_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from provenance import git_commit
import time
from pathlib import Path

from atlas_kernel import load_model, load_suite
from atlas_kernel.bench import append_result, read_results
from atlas_kernel.grading import grader_for
from atlas_kernel.models.base import Sampling
from atlas_kernel.pipeline.extract import extract_code
from atlas_kernel.pipeline.prompts import chat_code_prompt

RESULTS = Path(__file__).parent / "results"
VARIANTS = ("ours", "evalplus", "evalplus_plain")
EVALPLUS_ASK = "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
EVALPLUS_BEGIN = ("Below is a Python script with a self-contained function that solves the problem and passes "
                  "corresponding tests:\n```python\n")


def generate(model, variant: str, problem, max_tokens: int) -> tuple[str, object]:
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens)
    if variant == "ours":
        c = model.generate(chat_code_prompt(problem), sampling)
        return c.text, c
    user = f"{EVALPLUS_ASK}\n```\n{problem.starter_code.strip()}\n```\n"
    if variant == "evalplus_plain":
        c = model.generate([{"role": "user", "content": user}], sampling)
        return c.text, c
    text, stops = model.render([{"role": "user", "content": user}])
    c = model.generate(text + EVALPLUS_BEGIN, sampling.with_(stop=tuple(stops) + ("\n```",)))
    return "```python\n" + c.text + "\n```", c


def run_variant(model, model_name: str, variant: str, tasks, max_tokens: int) -> dict:
    rows_path = RESULTS / f"baseline_prompt_{model_name}_{variant}.jsonl"
    done = read_results(rows_path)
    for i, task in enumerate(tasks, 1):
        if task.id in done:
            continue
        t0 = time.perf_counter()
        text, c = generate(model, variant, task.problem, max_tokens)
        gen_s = time.perf_counter() - t0
        code = extract_code(task.problem, text)
        grade = grader_for(task).grade(code)
        row = {"task_id": task.id, "passed": grade.passed, "summary": grade.summary,
               "completion_tokens": c.completion_tokens, "truncated": c.completion_tokens >= max_tokens,
               "generate_s": gen_s, "code": code}
        append_result(rows_path, row)
        done[task.id] = row
        print(f"[{variant}] {i}/{len(tasks)} {task.id}: {grade.summary}  "
              f"({sum(r['passed'] for r in done.values())}/{len(done)})", flush=True)
    rows = [done[t.id] for t in tasks]
    return {"variant": variant, "tasks": len(rows), "solved": sum(r["passed"] for r in rows),
            "truncated": sum(r["truncated"] for r in rows),
            "mean_completion_tokens": sum(r["completion_tokens"] for r in rows) / len(rows),
            "failed_by_verdict": {v: sum(1 for r in rows if not r["passed"] and r["summary"] == v)
                                  for v in sorted({r["summary"] for r in rows if not r["passed"]})}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--variants", default="ours,evalplus")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    args = ap.parse_args()
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    tasks = load_suite("humaneval")[:: args.every]
    model = load_model(args.model, **({"n_threads": args.threads} if args.threads else {}))
    commit = git_commit(short=True)
    summary = {"suite": "humaneval", "every": args.every, "model": args.model, "model_info": model.info(),
               "max_tokens": args.max_tokens, "code_version": commit,
               "command": "benchmark/bench_baseline_prompt.py " + " ".join(
                   f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()), "variants": []}
    for variant in args.variants.split(","):
        s = run_variant(model, args.model, variant, tasks, args.max_tokens)
        summary["variants"].append(s)
        print(f"{variant}: {s['solved']}/{s['tasks']} (truncated {s['truncated']})", flush=True)
    base = summary["variants"][0]
    for s in summary["variants"]:
        s["ratio_vs_" + base["variant"]] = s["solved"] / max(1, base["solved"])
    out = RESULTS / f"baseline_prompt_{args.model}.json"
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
