"""A short benchmark with the real embedded model in a worker process: condition A, 3 HumanEval tasks."""

from __future__ import annotations

import json

import pytest

from atlas_kernel.bench import run_benchmark
from atlas_kernel.bench.fingerprint import file_sha256

pytestmark = pytest.mark.real_model


@pytest.mark.timeout(300)
def test_condition_a_on_three_humaneval_tasks_with_the_default_model(tmp_path, default_model_path):
    out = tmp_path / "he"
    run = run_benchmark("humaneval", condition="A", model="qwen-coder-0.5b", limit=3, out=out, workers=1, threads=1,
                        progress="none")  # one thread: llama.cpp spin-waits badly on a busy machine
    assert [r["task_id"] for r in run.rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    for r in run.rows:
        assert r["hidden_verdicts"] and set(r["hidden_verdicts"]) <= {"passed", "wrong_answer", "runtime_error", "timeout",
                                                                       "compile_error", "memory_limit", "sandbox_error"}
        assert r["passed"] == (r["hidden_verdicts"] == ["passed"])
        assert r["tokens"] > 0 and r["phase_s"]["probe"] > 0 and r["solved_by"] == "probe"
        assert (out / r["trace"]).exists()
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"]["sha256"] == file_sha256(default_model_path) and meta["model"]["kind"] == "gguf"
    assert run.summary["metric"] == "pass@1" and 0 <= run.summary["solved"] <= 3
    # resuming a finished run loads no model and repeats nothing
    again = run_benchmark("humaneval", condition="A", model="qwen-coder-0.5b", limit=3, out=out, resume=True, progress="none")
    assert [r["task_id"] for r in again.rows] == [r["task_id"] for r in run.rows]
    assert len((out / "results.jsonl").read_text().splitlines()) == 3


@pytest.mark.timeout(300)
def test_online_lens_scores_real_embeddings_and_recalibrates_from_public_outcomes(tmp_path, smollm2_path, monkeypatch):
    from atlas_kernel.lens import Lens

    monkeypatch.delenv("ATLAS_NO_LENS", raising=False)
    out = tmp_path / "c"
    run = run_benchmark("humaneval", condition="C", model="smollm2", tasks="HumanEval/2", out=out, threads=1,
                        progress="none", online_lens=True,
                        overrides={"k": 3, "n_plans": 0, "early_stop": False, "self_tests": False})
    (row,) = run.rows
    info = row["online_lens"]
    trace = json.loads((out / row["trace"]).read_text())
    cands = trace["candidates"]
    assert info["start"] == "lens smollm2.npz"  # the shipped lens for the embedded model
    assert info["scored"] == len(cands) >= 2 and all(c["energy"] is not None for c in cands)
    public = [bool(c["public"]) and all(v["verdict"] == "passed" for v in c["public"]) for c in cands]
    assert info["public_pass"] == sum(public)
    # an update happens exactly when the candidates split on the public examples
    assert info["updated"] is (0 < sum(public) < len(public))
    if info["updated"]:
        assert Lens.load(out / info["file"]).info["online_sources"] == ["public"]
