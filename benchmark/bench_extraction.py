"""How much does stripping a model's appended test code (asserts, prints, a `__main__` block)
change single-shot HumanEval results? Offline: re-grades the greedy completions stored by
bench_baseline_prompt.py, as extracted then, and after `extract.strip_test_code`.

    .venv/bin/python benchmark/bench_extraction.py [--model qwen-coder-0.5b]

Writes benchmark/results/extraction_<model>.json: per prompt variant, tasks whose program
changed, solved before/after, tasks gained and lost (baseline = the same rows unstripped).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from atlas_kernel.grading import grader_for
from atlas_kernel.pipeline.extract import strip_test_code
from atlas_kernel.problems.humaneval import load_humaneval

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-coder-0.5b")
    args = ap.parse_args()
    tasks = {t.id: t for t in load_humaneval()}
    out: dict = {"model": args.model, "command": f"benchmark/bench_extraction.py --model {args.model}",
                 "code_version": subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                                text=True, cwd=Path(__file__).parent).stdout.strip(),
                 "variants": {}}
    for rows_file in sorted(RESULTS.glob(f"baseline_prompt_{args.model}_*.jsonl")):
        variant = rows_file.stem.rsplit("_", 1)[1]
        rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
        gained, lost, changed = [], [], 0
        for r in rows:
            task = tasks[r["task_id"]]
            stripped = strip_test_code(r["code"], task.problem.entry_point)
            if stripped == r["code"]:
                continue
            changed += 1
            passed = grader_for(task).grade(stripped).passed
            if passed and not r["passed"]:
                gained.append(r["task_id"])
            elif r["passed"] and not passed:
                lost.append(r["task_id"])
        before = sum(r["passed"] for r in rows)
        after = before + len(gained) - len(lost)
        out["variants"][variant] = {"rows": str(rows_file.relative_to(RESULTS.parent.parent)), "tasks": len(rows),
                                    "changed": changed, "solved_before": before, "solved_after": after,
                                    "ratio": round(after / before, 4) if before else None,
                                    "gained": gained, "lost": lost}
        print(f"{variant}: {changed} programs changed; solved {before} -> {after} (gained {len(gained)}, lost {len(lost)})")
    (RESULTS / f"extraction_{args.model}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
