"""Benchmark harness with a scripted model in this process: logs, resume, metrics, ablation report."""

from __future__ import annotations

import json
import math

import pytest

from atlas_kernel.bench import read_results, run_ablation, run_benchmark, write_report
from atlas_kernel.bench.selection import select_tasks
from atlas_kernel.cli.main import main as atlas_main
from atlas_kernel.errors import AtlasError
from atlas_kernel.grading.passk import pass_at_k
from atlas_kernel.models.scripted import ScriptedModel
from bench_helpers import RIGHT, WRONG, fence, lcb_row, solvable, task_index, write_suite


def single_shot_model(name: str = "scripted") -> ScriptedModel:
    return ScriptedModel(lambda p, s: fence(RIGHT.format(i=task_index(p)) if solvable(task_index(p)) else WRONG), name=name)


def ladder_model() -> ScriptedModel:
    """Per task i: i%3==1 the probe is right; i%3==2 only a diverse sample (with a system role) is
    right; i%3==0 only a repair is right. So A solves 1/3, B 2/3, D all."""
    def answer(prompt, sampling):
        text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
        i = task_index(prompt)
        if "new, different test inputs" in text:
            return "```\n4 4\n```\n```\n2 9\n```"
        if "could give different answers" in text:
            return "```\n3 3\n```"
        if "Which output is correct" in text:
            return "A"
        if "is wrong" in text:
            return "The bug: it ignores the input.\n" + fence(RIGHT.format(i=i))
        has_system = not isinstance(prompt, str) and prompt[0]["role"] == "system"
        if i % 3 == 1 or (has_system and i % 3 == 2):
            return fence(RIGHT.format(i=i))
        return fence(WRONG)
    return ScriptedModel(answer)


@pytest.fixture
def suite(tmp_path):
    return "jsonl:" + str(write_suite(tmp_path / "suite.jsonl", 6))


def test_run_logs_one_line_per_task_with_verdicts_phase_tokens_timing_and_trace(suite, tmp_path):
    out = tmp_path / "run"
    run = run_benchmark(suite, condition="A", model=single_shot_model(), out=out, progress="none", power_watts=50)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 6
    rows = [json.loads(x) for x in lines]
    assert [r["task_id"] for r in rows] == [f"add{i}" for i in range(6)]
    for i, r in enumerate(rows):
        assert r["passed"] is solvable(i)
        assert r["hidden_verdicts"] == (["passed", "passed"] if solvable(i) else ["wrong_answer"])
        assert r["solved_by"] == "probe" and r["tokens"] > 0 and "probe" in r["phase_s"] and r["code"].strip()
        assert (out / r["trace"]).exists()
        assert math.isclose(r["energy_j"], 50 * r["wall_s"])
    assert run.summary["metric"] == "pass@1" and run.summary["solved"] == 4
    meta = json.loads((out / "run.json").read_text())
    assert meta["condition"] == "A" and meta["config"]["condition"] == "A" and meta["seed"] == 0
    assert meta["atlas_kernel"] and meta["tasks"] == [f"add{i}" for i in range(6)]
    assert meta["model"]["kind"] == "object" and meta["sessions"][0]["power"]["watts"] == 50
    assert (out / "report.md").exists() and (out / "report.json").exists()


def test_resume_reruns_only_unfinished_tasks_and_never_duplicates(suite, tmp_path):
    out = tmp_path / "run"
    calls: list[int] = []
    failed: set[int] = set()

    def flaky(prompt, sampling):
        i = task_index(prompt)
        calls.append(i)
        if i in (2, 4) and i not in failed:
            failed.add(i)
            raise RuntimeError("model hiccup")  # the first attempt at add2 and add4 fails
        return fence(RIGHT.format(i=i))

    model = ScriptedModel(flaky)
    first = run_benchmark(suite, model=model, out=out, progress="none")
    assert sorted(e["task_id"] for e in first.errors) == ["add2", "add4"]
    assert set(read_results(out / "results.jsonl")) == {"add0", "add1", "add3", "add5"}
    with pytest.raises(AtlasError, match="--resume"):
        run_benchmark(suite, model=model, out=out, progress="none")  # refusing to mix runs silently
    calls.clear()
    second = run_benchmark(suite, model=model, out=out, progress="none", resume=True)
    assert sorted(calls) == [2, 4] and not second.errors
    ids = [json.loads(x)["task_id"] for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(ids) == [f"add{i}" for i in range(6)] and len(ids) == 6
    assert len(json.loads((out / "run.json").read_text())["sessions"]) == 2  # the refused run left no trace


def test_a_torn_last_line_is_redone_once_on_resume(suite, tmp_path):
    out = tmp_path / "run"
    run_benchmark(suite, model=single_shot_model(), out=out, progress="none")
    log = out / "results.jsonl"
    data = log.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1
    log.write_bytes(data[: cut + 40])  # killed in the middle of writing add5's line
    assert "add5" not in read_results(log)
    again = run_benchmark(suite, model=single_shot_model(), out=out, progress="none", resume=True)
    assert [r["task_id"] for r in again.rows] == [f"add{i}" for i in range(6)]
    good = [json.loads(x)["task_id"] for x in log.read_text().splitlines() if x.strip().endswith("}")]
    assert good.count("add5") == 1 and len(good) == 6


def test_resume_refuses_a_different_condition_or_selection(suite, tmp_path):
    out = tmp_path / "run"
    run_benchmark(suite, model=single_shot_model(), out=out, progress="none", limit=3)
    with pytest.raises(AtlasError, match="condition"):
        run_benchmark(suite, condition="B", model=single_shot_model(), out=out, progress="none", limit=3, resume=True)
    with pytest.raises(AtlasError, match="tasks"):
        run_benchmark(suite, model=single_shot_model(), out=out, progress="none", limit=4, resume=True)


def test_task_selection_filters_then_every_then_limit(suite, tmp_path):
    assert [t.id for t in select_tasks(suite, every=2)] == ["add0", "add2", "add4"]
    assert [t.id for t in select_tasks(suite, every=2, limit=2)] == ["add0", "add2"]
    assert [t.id for t in select_tasks(suite, tasks=["add5", "add1"])] == ["add5", "add1"]
    with pytest.raises(AtlasError, match="LiveCodeBench"):
        select_tasks(suite, since="2024-01-01")


def test_livecodebench_window_and_difficulty_filters_and_breakdown_by_platform_and_difficulty(tmp_path):
    f = tmp_path / "lcb.jsonl"
    rows = [lcb_row("q1", platform="atcoder", difficulty="easy", date="2024-05-01T00:00:00"),
            lcb_row("q2", platform="leetcode", difficulty="easy", date="2024-08-01T00:00:00"),
            lcb_row("q3", platform="atcoder", difficulty="hard", date="2024-09-01T00:00:00"),
            lcb_row("q4", platform="codeforces", difficulty="easy", date="2025-03-01T00:00:00")]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    assert [t.id for t in select_tasks(f"lcb:{f}", since="2024-06-01", until="2024-12-31")] == ["q2", "q3"]
    assert [t.id for t in select_tasks(f"lcb:{f}", difficulty="easy")] == ["q1", "q2", "q4"]
    good = fence("a, b = map(int, input().split())\nprint(a + b)")
    model = ScriptedModel(lambda p, s: good if "q3" not in str(p) and "q4" not in str(p) else fence(WRONG))
    run = run_benchmark(f"lcb:{f}", model=model, out=tmp_path / "run", progress="none")
    s = run.summary
    assert s["by_platform"] == {"atcoder": {"n": 2, "solved": 1, "pass_rate": 0.5},
                                "codeforces": {"n": 1, "solved": 0, "pass_rate": 0.0},
                                "leetcode": {"n": 1, "solved": 1, "pass_rate": 1.0}}
    assert s["by_difficulty"]["easy"] == {"n": 3, "solved": 2, "pass_rate": 2 / 3}
    assert "## By platform" in (tmp_path / "run" / "report.md").read_text()


def test_plain_sampling_gives_the_unbiased_pass_at_k(suite, tmp_path):
    # sample j of task i is right iff j < i (seeds are 0..N-1): task i has c = min(i, N) correct
    def answer(prompt, sampling):
        i = task_index(prompt)
        return fence(RIGHT.format(i=i) if sampling.seed < i else WRONG)

    run = run_benchmark(suite, samples=4, temperature=0.7, model=ScriptedModel(answer), out=tmp_path / "s", progress="none")
    counts = [(4, min(i, 4)) for i in range(6)]
    assert [(r["n_samples"], r["n_correct"]) for r in run.rows] == counts
    pk = run.summary["pass_at_k"]
    assert set(pk) == {"pass@1", "pass@2", "pass@4"}
    for k in (1, 2, 4):
        assert math.isclose(pk[f"pass@{k}"], sum(pass_at_k(n, c, k) for n, c in counts) / 6)
    assert run.summary["pass_at_1"] == pk["pass@1"] and run.summary["metric"] == "pass@k"
    assert json.loads((tmp_path / "s" / "run.json").read_text())["temperature"] == 0.7
    with pytest.raises(AtlasError, match="temperature"):
        run_benchmark(suite, samples=4, temperature=0.0, model=ScriptedModel(answer), out=tmp_path / "t", progress="none")


def test_ablation_reports_paired_differences_rescues_waterfall_and_costs(suite, tmp_path):
    out = tmp_path / "abl"
    abl = run_ablation(suite, "A,B,D", model=ladder_model(), out=out, progress="none", power_watts=40,
                       overrides={"k": 2, "n_plans": 0, "repair_perspectives": ["logic"]})
    assert {c: r.summary["solved"] for c, r in abl.runs.items()} == {"A": 2, "B": 4, "D": 6}
    assert abl.runs["A"].summary["metric"] == "pass@1" and abl.runs["B"].summary["metric"].startswith("pass@1-v(")
    rep = abl.report
    assert rep["paired_vs_A"]["B"]["diff"] == pytest.approx(2 / 6) and rep["paired_vs_A"]["B"]["lost"] == 0
    lo, hi = rep["paired_vs_A"]["D"]["ci95"]
    assert rep["paired_vs_A"]["D"]["diff"] == pytest.approx(4 / 6) and lo <= 4 / 6 <= hi and lo > 0
    assert rep["rescues"]["B"]["rescued_vs_A"] == {"div": 2}
    assert rep["rescues"]["D"]["rescued_vs_A"] == {"div": 2, "repair": 2}
    steps = rep["waterfall"]
    assert steps[0]["cumulative"] == pytest.approx(2 / 6) and steps[-1]["cumulative"] == pytest.approx(1.0)
    assert rep["cost_per_solved"]["D"]["joules"] > 0
    for name in ("pass_rates", "paired_vs_A", "waterfall", "rescues", "cost"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "Paired difference vs A" in md and "waterfall" in md
    # every condition ran the same tasks with the same seed
    for c in "ABD":
        meta = json.loads((out / c / "run.json").read_text())
        assert meta["seed"] == 0 and meta["tasks"] == [f"add{i}" for i in range(6)] and meta["condition"] == c


def test_an_ablation_resumed_with_more_conditions_reuses_the_finished_ones(suite, tmp_path):
    out = tmp_path / "abl"
    over = {"k": 2, "n_plans": 0, "repair_perspectives": ["logic"]}
    run_ablation(suite, "A,B", model=ladder_model(), out=out, progress="none", overrides=over)
    model = ladder_model()
    abl = run_ablation(suite, "A,D", model=model, out=out, progress="none", overrides=over, resume=True)
    assert abl.report["conditions"] == ["A", "B", "D"] and abl.report["n_common"] == 6
    assert abl.report["pass_rate_on_common"] == pytest.approx({"A": 2 / 6, "B": 4 / 6, "D": 1.0})
    assert len(read_results(out / "A" / "results.jsonl")) == 6  # A was not run again
    with pytest.raises(AtlasError, match="config"):  # a shared condition with another config is another run
        run_ablation(suite, "A,B", model=ladder_model(), out=out, progress="none", overrides={"k": 3, "n_plans": 0},
                     resume=True)


def test_report_command_regenerates_the_same_numbers_without_a_model(suite, tmp_path, capsys):
    out = tmp_path / "abl"
    abl = run_ablation(suite, ["A", "B"], model=ladder_model(), out=out, progress="none",
                       overrides={"k": 2, "n_plans": 0})
    (out / "report.json").unlink()
    (out / "plots" / "waterfall.png").unlink()
    assert atlas_main(["bench", "report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "# Ablation" in printed and (out / "plots" / "waterfall.png").exists()
    again = json.loads((out / "report.json").read_text())
    assert again["paired_vs_A"] == json.loads(json.dumps(abl.report["paired_vs_A"]))
    assert write_report(out / "A")["summary"]["solved"] == 2


def test_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    assert atlas_main(["bench", "--suite", "humaneval", "--samples", "3", "--condition", "B"]) == 2
    assert "--samples is plain sampling" in capsys.readouterr().err
    assert atlas_main(["bench", "--suite", "jsonl:" + str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert atlas_main(["bench", "--suite", "humaneval", "--ablation", "A,Z"]) == 2
    assert "Z" in capsys.readouterr().err


def test_each_session_records_the_lens_file_the_lens_hook_loads(suite, tmp_path, monkeypatch):
    from atlas_kernel.lens import Lens

    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ATLAS_NO_LENS", raising=False)
    model = single_shot_model(name="tiny")
    run_benchmark(suite, model=model, out=tmp_path / "r1", progress="none", limit=1)
    assert json.loads((tmp_path / "r1" / "run.json").read_text())["sessions"][0]["lens"] is None
    path = Lens.init(16, seed=0).save(tmp_path / "cache" / "lenses" / "tiny.npz")
    run_benchmark(suite, model=model, out=tmp_path / "r1", progress="none", limit=1, resume=True)
    sessions = json.loads((tmp_path / "r1" / "run.json").read_text())["sessions"]
    assert sessions[1]["lens"]["path"] == str(path) and len(sessions[1]["lens"]["sha256"]) == 64


def test_online_lens_recalibrates_after_each_task_from_public_outcomes_and_saves_its_weights(suite, tmp_path, monkeypatch):
    from atlas_kernel.lens import Lens

    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path / "cache"))  # no trained lens: starts untrained
    over = {"k": 2, "n_plans": 0, "repair_perspectives": ["logic"]}
    with pytest.raises(AtlasError, match="online-lens"):
        run_benchmark(suite, condition="B", model=ladder_model(), out=tmp_path / "b", progress="none", overrides=over,
                      online_lens=True)
    abl = run_ablation(suite, "A,C", model=ladder_model(), out=tmp_path / "abl", progress="none", overrides=over,
                       online_lens=True)
    rows = abl.runs["C"].rows
    assert all("online_lens" not in r for r in abl.runs["A"].rows)
    for i, r in enumerate(rows):
        info = r["online_lens"]
        assert info["start"] == "untrained"
        # only task kinds whose candidates split on the PUBLIC examples give a ranking pair
        assert info["updated"] is (i % 3 == 2), (i, info)
    assert rows[-1]["online_lens"]["updates"] == 2
    meta = json.loads((tmp_path / "abl" / "C" / "run.json").read_text())
    assert meta["online_lens"] == "public" and "online_lens" not in json.loads((tmp_path / "abl" / "A" / "run.json").read_text())
    saved = Lens.load(tmp_path / "abl" / "C" / rows[-1]["online_lens"]["file"])
    assert saved.info["online_updates"] == 2 and saved.info["online_sources"] == ["public"]
    with pytest.raises(AtlasError, match="online_lens"):  # a recalibrating run is a different run
        run_benchmark(suite, condition="C", model=ladder_model(), out=tmp_path / "abl" / "C", progress="none",
                      overrides=over, resume=True)


def test_a_report_of_an_ablation_under_way_compares_the_started_arms_and_lists_the_rest(suite, tmp_path):
    from atlas_kernel.bench.report import build_ablation_report

    out = tmp_path / "abl"
    run_ablation(suite, "A,B", model=ladder_model(), out=out, progress="none", overrides={"k": 2, "n_plans": 0})
    # the arms of a longer ablation are opened before any runs: a stop then leaves C with no rows
    meta = json.loads((out / "run.json").read_text())
    meta["conditions"] = ["A", "B", "C"]
    (out / "run.json").write_text(json.dumps(meta))
    arm = json.loads((out / "B" / "run.json").read_text())
    (out / "C").mkdir()
    (out / "C" / "run.json").write_text(json.dumps({**arm, "condition": "C"}))
    rep = build_ablation_report(out)
    assert rep["not_started"] == ["C"] and rep["n_common"] == 6
    assert set(rep["paired_vs_A"]) == {"B"} and set(rep["cost_per_solved"]) == {"A", "B"}
    assert atlas_main(["bench", "report", str(out), "--no-plots"]) == 0


def test_the_ablation_report_counts_the_probes_early_stops_and_those_the_hidden_tests_then_failed(suite, tmp_path):
    from atlas_kernel.bench.report import build_ablation_report

    out = tmp_path / "abl"
    run_ablation(suite, "A,B", model=ladder_model(), out=out, progress="none", overrides={"k": 2, "n_plans": 0})
    path = out / "B" / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    passed = next(r for r in rows if r["passed"])
    failed = next(r for r in rows if not r["passed"])
    for r in rows:  # mark exactly one passing and one failing row as stopped early
        r["stopped_early"] = r is passed or r is failed
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = build_ablation_report(out)
    assert rep["early_stops"]["B"] == {"stopped": 2, "failed": 1}
    a_rows = read_results(out / "A" / "results.jsonl").values()
    assert rep["early_stops"]["A"]["stopped"] == sum(1 for r in a_rows if r.get("stopped_early"))
    assert atlas_main(["bench", "report", str(out), "--no-plots"]) == 0
    md = (out / "report.md").read_text()
    assert "probe stopped early (then failed)" in md and "| 2 (1) |" in md
