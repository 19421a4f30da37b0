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


def test_a_run_begun_before_a_config_field_was_added_resumes_with_its_default(tmp_path):
    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 4))
    out = tmp_path / "run"
    run_benchmark(suite, model=_model(), out=out, progress="none", limit=2)
    meta = json.loads((out / "run.json").read_text())
    del meta["config"]["begin_code"]  # as a version from before the field wrote it
    (out / "run.json").write_text(json.dumps(meta))
    rows = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text(rows[0])  # one task still to run
    run_benchmark(suite, model=_model(), out=out, progress="none", limit=2, resume=True)
    assert set(read_results(out / "results.jsonl")) == {"add0", "add1"}
    assert json.loads((out / "run.json").read_text())["config"]["begin_code"] is False
