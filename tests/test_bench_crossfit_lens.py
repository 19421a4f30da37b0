"""`atlas bench --lens`: a Lens file or a cross-fitted set ranks the Lens conditions' candidates, each
task with the lens of its fold, and the choice is part of the run's identity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from atlas_kernel.bench import run_ablation, run_benchmark
from atlas_kernel.cli.main import main as atlas_main
from atlas_kernel.errors import AtlasError
from atlas_kernel.lens import Lens, ops
from atlas_kernel.lens.crossfit import load_crossfit, load_scorer, write_manifest
from bench_helpers import write_suite
from lens_helpers import rand_lens
from test_bench_harness import ladder_model

OVER = {"k": 2, "n_plans": 0, "repair_perspectives": ["logic"]}
IDS = [f"add{i}" for i in range(6)]


@pytest.fixture
def suite(tmp_path):
    return "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 6))


def _set(directory, seeds=(1, 2)):
    even, odd = rand_lens(16, hidden=(8, 4), seed=seeds[0]), rand_lens(16, hidden=(8, 4), seed=seeds[1])
    return write_manifest(directory, "scripted", "jsonl", [(even, IDS[0::2]), (odd, IDS[1::2])]), (even, odd)


def test_each_task_is_ranked_by_the_lens_of_its_fold(suite, tmp_path):
    manifest, lenses = _set(tmp_path / "cf")
    model = ladder_model()
    abl = run_ablation(suite, "A,C", model=model, out=tmp_path / "abl", progress="none", overrides=OVER, lens=manifest)
    checked = set()
    for i, row in enumerate(abl.runs["C"].rows):
        assert row["lens_fold"] == f"fold{i % 2}.npz"
        trace = json.loads((tmp_path / "abl" / "C" / row["trace"]).read_text())
        scored = [e["data"]["energies"] for e in trace["events"] if e["kind"] == "energy"]
        if not scored:  # the probe passed and stopped the solve: nothing to rank
            continue
        energy = scored[0]
        checked.add(i % 2)
        codes = {c["id"]: c["code"] for c in trace["candidates"]}
        ids = sorted(energy)
        want = ops.energy(model.embed([codes[c] for c in ids]), lenses[i % 2])
        np.testing.assert_allclose([energy[c] for c in ids], want, rtol=1e-5, atol=1e-6)
    assert checked == {0, 1}  # both lenses ranked some task
    assert all("lens_fold" not in r for r in abl.runs["A"].rows)
    meta_c = json.loads((tmp_path / "abl" / "C" / "run.json").read_text())
    assert meta_c["lens"]["kind"] == "crossfit" and len(meta_c["lens"]["folds"]) == 2
    assert "lens" not in json.loads((tmp_path / "abl" / "A" / "run.json").read_text())


def test_resume_refuses_a_remade_set_but_restarts_an_arm_without_finished_tasks(suite, tmp_path):
    manifest, _ = _set(tmp_path / "cf")
    run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "c", progress="none", overrides=OVER,
                  limit=1, lens=manifest)
    _set(tmp_path / "cf", seeds=(3, 4))  # same path, other lenses
    with pytest.raises(AtlasError, match="differs in: lens"):
        run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "c", progress="none",
                      overrides=OVER, limit=1, lens=manifest, resume=True)
    (tmp_path / "c" / "results.jsonl").unlink()  # nothing finished: nothing to continue
    run = run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "c", progress="none",
                        overrides=OVER, limit=1, lens=manifest, resume=True)
    assert len(run.rows) == 1


def test_a_task_in_no_fold_or_a_task_in_two_is_refused(tmp_path):
    lens = rand_lens(16, hidden=(8, 4))
    scorer = load_crossfit(write_manifest(tmp_path / "a", "m", "s", [(lens, ["t0"]), (lens, ["t1"])]))

    class P:
        id = "t9"
    with pytest.raises(AtlasError, match="t9.*no fold"):
        scorer(P(), [], np.zeros((1, 16), np.float32))
    with pytest.raises(AtlasError, match="two folds"):
        load_crossfit(write_manifest(tmp_path / "b", "m", "s", [(lens, ["t0"]), (lens, ["t0"])]))
    with pytest.raises(AtlasError, match="not 'other'"):
        load_crossfit(tmp_path / "a" / "crossfit.json", model_id="other")


def test_a_lens_set_edited_after_its_manifest_is_refused(tmp_path):
    manifest = write_manifest(tmp_path, "m", "s", [(rand_lens(16, hidden=(8, 4)), ["t0"])])
    Lens.init(16, seed=5, hidden=(8, 4)).save(tmp_path / "fold0.npz")
    with pytest.raises(AtlasError, match="changed after"):
        load_scorer(manifest)


def test_lens_option_errors_are_one_line(suite, tmp_path, capsys):
    manifest, _ = _set(tmp_path / "cf")
    assert atlas_main(["bench", "--suite", suite, "--condition", "B", "--lens", str(manifest),
                       "--out", str(tmp_path / "b")]) == 2
    assert "do not use" in capsys.readouterr().err
    assert atlas_main(["bench", "--suite", suite, "--condition", "C", "--lens", str(tmp_path / "none.npz"),
                       "--out", str(tmp_path / "c")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert atlas_main(["bench", "--suite", suite, "--condition", "C", "--lens", str(tmp_path / "suite.jsonl"),
                       "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "--lens takes" in err and "Traceback" not in err


def test_lens_training_data_or_a_set_for_another_model_is_refused_before_any_task(suite, tmp_path, capsys):
    from atlas_kernel.lens.data import LensData

    data = LensData(np.zeros((2, 16), np.float32), np.array([0, 1]), np.array([0, 0]), ["add0"], "scripted")
    path = data.save(tmp_path / "rows.npz")
    assert atlas_main(["bench", "--suite", suite, "--condition", "C", "--lens", str(path),
                       "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "is not a Lens file" in err and "Traceback" not in err
    other = write_manifest(tmp_path / "o", "another-model", "jsonl", [(rand_lens(16, hidden=(8, 4)), IDS)])
    with pytest.raises(AtlasError, match="another-model"):
        run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "c2", progress="none",
                      overrides=OVER, limit=1, lens=other)
    partial = write_manifest(tmp_path / "p", "scripted", "jsonl", [(rand_lens(16, hidden=(8, 4)), IDS[:1])])
    with pytest.raises(AtlasError, match="in no fold"):
        run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "c3", progress="none",
                      overrides=OVER, limit=2, lens=partial)
