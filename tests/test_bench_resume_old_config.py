"""A run directory written before PipelineConfig lost its never-read fields (`probe`, `extra`)
still resumes: those fields are dropped when run.json is read."""

from __future__ import annotations

import json

from atlas_kernel.bench import read_results, run_ablation, run_benchmark
from atlas_kernel.models.scripted import ScriptedModel
from bench_helpers import RIGHT, fence, task_index, write_suite


def _model() -> ScriptedModel:
    return ScriptedModel(lambda p, s: fence(RIGHT.format(i=task_index(p))))


def _age(run_json, configs) -> None:
    meta = json.loads(run_json.read_text())
    for cfg in configs(meta):
        cfg.update({"probe": True, "extra": {}})
    run_json.write_text(json.dumps(meta))


def test_a_run_with_the_old_config_fields_resumes(tmp_path):
    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 4))
    out = tmp_path / "run"
    run_benchmark(suite, model=_model(), out=out, progress="none", limit=2)
    _age(out / "run.json", lambda meta: [meta["config"]])
    run_benchmark(suite, model=_model(), out=out, progress="none", limit=2, resume=True)
    assert set(read_results(out / "results.jsonl")) == {"add0", "add1"}
    assert "probe" not in json.loads((out / "run.json").read_text())["config"]


def test_an_ablation_with_the_old_config_fields_resumes(tmp_path):
    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 3))
    out = tmp_path / "abl"
    run_ablation(suite, ["A", "B"], model=_model(), out=out, progress="none")
    _age(out / "run.json", lambda meta: meta["config"].values())
    run_ablation(suite, ["A", "B"], model=_model(), out=out, progress="none", resume=True)
