"""Plot functions under the Agg backend, outside any widget or notebook."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from atlas_kernel.lens import Lens, ops, reference  # noqa: E402
from atlas_kernel.pipeline.config import PipelineConfig  # noqa: E402
from atlas_kernel.pipeline.pipeline import Pipeline  # noqa: E402
from atlas_kernel.problems import load_problem  # noqa: E402
from atlas_kernel.widgets import ablation, plots  # noqa: E402
from frontend_helpers import scripted  # noqa: E402


def _emb(n=6, d=24, seed=1):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_pca_plane_is_orthonormal_and_projects_the_points():
    x = _emb()
    pl = plots.make_plane(x, "pca")
    assert abs(pl.a @ pl.a - 1) < 1e-9 and abs(pl.b @ pl.b - 1) < 1e-9 and abs(pl.a @ pl.b) < 1e-9
    assert np.allclose(pl.coords[:, 0], (x - x.mean(0)) @ pl.a)
    # the first axis carries the most variance
    assert pl.coords[:, 0].var() >= pl.coords[:, 1].var()


def test_best3_plane_passes_through_the_three_lowest_energies():
    x = _emb()
    energies = [5, 0.1, 3, 0.2, 0.3, 9]
    pl = plots.make_plane(x, "best3", energies=energies)
    assert pl.kind == "best3"
    for i in (1, 3, 4):  # exactly on the plane: reconstruction from the 2 coordinates is exact
        rec = pl.center + pl.coords[i, 0] * pl.a + pl.coords[i, 1] * pl.b
        assert np.allclose(rec, x[i], atol=1e-4)


@pytest.mark.parametrize("n", [1, 2])
def test_degenerate_sets_still_get_a_plane(n):
    x = _emb(n)
    pl = plots.make_plane(x, "best3")  # falls back to PCA, completed with random directions
    assert pl.kind == "pca" and abs(pl.a @ pl.b) < 1e-9 and pl.coords.shape == (n, 2)
    identical = np.repeat(_emb(1), 4, axis=0)
    assert plots.make_plane(identical).coords.shape == (4, 2)


def test_landscape_figure_matches_the_reference_energies():
    x = _emb(5, 32)
    lens = Lens.init(32, seed=3, hidden=(16, 8))
    fig = plots.landscape_figure(x, lens, labels=list("abcde"), status=["passed", "failed", "failed", "unverified", "passed"],
                                 repairs=[("b", "a")], chosen="a", resolution=17, backend="auto")
    assert isinstance(fig, Figure)
    pl, grid = fig.atlas_plane, fig.atlas_grid
    assert grid.shape == (17, 17)
    ax = fig.axes[0]
    s = np.linspace(*ax.get_xlim(), 17, dtype=np.float32)
    t = np.linspace(*ax.get_ylim(), 17, dtype=np.float32)
    ref = reference.landscape(lens, pl.center.astype(np.float32), pl.a.astype(np.float32), pl.b.astype(np.float32), s, t)
    assert np.allclose(grid, ref, rtol=1e-4, atol=1e-5)
    assert "untrained lens" in ax.get_title()
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation" and c.arrow_patch is not None]) >= 1
    png = plots.figure_png(fig)
    assert png[:4] == b"\x89PNG" and len(png) < 300_000


def test_landscape_rejects_a_lens_of_another_dimension():
    with pytest.raises(ValueError, match="16-d embeddings but these are 24-d"):
        plots.landscape_figure(_emb(), Lens.init(16))


def test_landscape_for_a_run_embeds_with_the_model_and_colours_by_verdict():
    model = scripted()
    run = Pipeline(model, PipelineConfig.for_condition("D", k=2, n_plans=1, repair_rounds=1, repair_perspectives=("logic",)),
                   style="chat").start(load_problem("example:sum_of_list"))
    run.run_to_end()
    fig = plots.landscape_for(run, model=model, resolution=11, plane="best3")
    ax = fig.axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert any("repair0" in lab for lab in labels)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "passes public examples" in legend and "fails public examples" in legend and "repair: parent → child" in legend
    with pytest.raises(ValueError, match="needs the model"):
        plots.landscape_for(run)
    # the same from the saved trace, given the embeddings
    emb = model.embed([c.code for c in run.state.candidates])
    assert isinstance(plots.landscape_for(run.trace, embeddings=emb, resolution=9), Figure)


def test_cpu_kernel_is_used_when_built():
    if "cpu" not in ops.backends():
        pytest.skip("compiled Lens extension not built")
    fig = plots.landscape_figure(_emb(4, 16), Lens.init(16, hidden=(8, 4)), resolution=9, backend="cpu")
    assert fig.atlas_grid.shape == (9, 9)


def test_candidates_and_ablation_figures():
    model = scripted()
    run = Pipeline(model, PipelineConfig.for_condition("B", k=2, n_plans=1), style="chat").start(load_problem("example:sum_of_list"))
    run.run_to_end()
    assert isinstance(plots.candidates_figure(run), Figure)
    rows = {
        "A": [{"task_id": f"t{i}", "passed": i < 2, "tokens": 100, "wall_s": 2.0, "phase_s": {"probe": 2.0}} for i in range(6)],
        "B": [{"task_id": f"t{i}", "passed": i < 3, "tokens": 900, "wall_s": 20.0, "phase_s": {"probe": 2.0, "plansearch": 18.0},
               "solved_by": "plan"} for i in range(6)],
    }
    summary = ablation.summarize(rows)
    assert summary["A"]["solved"] == 2 and summary["B"]["pass_at_1"] == 0.5
    assert summary["B"]["vs_baseline"]["gained"] == 1 and summary["B"]["vs_baseline"]["lost"] == 0
    lo, hi = summary["B"]["ci95"]
    assert 0 <= lo <= 0.5 <= hi <= 1
    fig = plots.ablation_figure(summary)
    assert len(fig.axes) == 3
    assert isinstance(plots.phase_times_figure({c: s["phase_s_per_task"] for c, s in summary.items()}), Figure)
    html = ablation.table_html(summary)
    assert "pass@1" in html and "+1 / −0" in html


def test_stored_results_loader_skips_torn_lines(tmp_path):
    d = tmp_path / "pipeline" / "smollm2_A"
    d.mkdir(parents=True)
    (d / "results.jsonl").write_text('{"task_id": "x", "passed": true}\n{"task_id": "y", "pas')
    assert ablation.load_rows(tmp_path) == {"A": [{"task_id": "x", "passed": True}]}
    assert ablation.load_rows(tmp_path / "nowhere") == {} and ablation.load_summary(tmp_path) is None


def test_live_ablation_solves_and_grades_each_task_once():
    from atlas_kernel.problems import load_suite

    tasks = load_suite("humaneval", task_ids=["HumanEval/0"])
    rows = ablation.run_live(["A"], tasks, scripted(), style="chat")
    assert [(r["task_id"], r["condition"]) for r in rows["A"]] == [("HumanEval/0", "A")]
    assert rows["A"][0]["grade"] in {"passed", "wrong_answer", "runtime_error", "timeout", "compile_error"}
    assert ablation.summarize(rows)["A"]["n"] == 1


def test_an_atlas_bench_ablation_directory_gives_the_numbers_of_its_report(tmp_path):
    from atlas_kernel.bench import run_ablation
    from atlas_kernel.bench.report import build_ablation_report
    from bench_helpers import write_suite
    from test_bench_harness import ladder_model

    suite = "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 6))
    run_ablation(suite, "A,B,D", model=ladder_model(), out=tmp_path / "abl", progress="none",
                 overrides={"k": 2, "n_plans": 0, "repair_perspectives": ["logic"]})
    d_rows = tmp_path / "abl" / "D" / "results.jsonl"
    d_rows.write_text("".join(d_rows.read_text().splitlines(keepends=True)[:3]))  # D under way: 3 of 6 tasks
    rows = ablation.load_ablation(tmp_path / "abl")
    assert sorted(rows) == ["A", "B", "D"] and all(len(r) == 3 for r in rows.values())  # compared on common tasks
    summary = ablation.summarize(rows)
    rep = build_ablation_report(tmp_path / "abl")
    for cond in ("A", "B", "D"):
        assert summary[cond]["pass_at_1"] == rep["pass_rate_on_common"][cond]
    assert summary["B"]["vs_baseline"]["diff"] == rep["paired_vs_A"]["B"]["diff"]
    assert summary["B"]["vs_baseline"]["ci95"] == rep["paired_vs_A"]["B"]["ci95"]
    from atlas_kernel.errors import AtlasError

    with pytest.raises(AtlasError, match="not a benchmark run directory"):
        ablation.load_ablation(tmp_path / "nowhere")
