"""%atlas_solve / %%atlas_solve in a real IPython InteractiveShell, with a scripted model injected
through atlas_kernel.session.register_model (and one run on the real embedded model)."""

from __future__ import annotations

import json

import pytest

from atlas_kernel import session
from frontend_helpers import RIGHT, scripted

IPython = pytest.importorskip("IPython")

CELL = """# Sum of two
Read two integers on one line and print their sum.

Input:
```
1 2
```
Output:
```
3
```
"""


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "atlas_kernel")
    magics = sh.magics_manager.registry["AtlasMagics"]
    saved = {k: getattr(magics, k) for k in ("model", "condition", "k", "max_tokens", "seed", "selector", "overrides", "progress")}
    yield sh
    for k, v in saved.items():
        setattr(magics, k, v)
    # %config also writes the shell's config, which the next load_ext's instance would inherit
    sh.config.pop("AtlasMagics", None)
    sh.run_line_magic("unload_ext", "atlas_kernel")


@pytest.fixture
def model():
    m = scripted(probe=RIGHT)
    session.register_model("scripted-test", m)
    yield m
    session._models.pop("scripted-test", None)


def test_load_ext_is_quiet_and_registers_both_magics(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "atlas_kernel")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert "atlas_solve" in sh.magics_manager.magics["line"] and "atlas_solve" in sh.magics_manager.magics["cell"]
    sh.run_line_magic("unload_ext", "atlas_kernel")


def test_line_magic_returns_a_rich_result(shell, model, tmp_path, capsys):
    trace_path = tmp_path / "t.json"
    res = shell.run_line_magic("atlas_solve", f"example:sum_of_list --model scripted-test --condition A --trace {trace_path}")
    assert res.code.strip() == "n = int(input())\nprint(sum(map(int, input().split())))"
    assert [v.verdict for v in res.verdicts] == ["passed", "passed"] and res.passed
    assert res.solution.candidate == "probe" and res.trace.llm_calls
    s = res.summary()
    assert s["condition"] == "A" and s["public"] == "2/2" and s["model_calls"] == 1 and s["candidates"] == {"probe": 1}
    assert json.loads(trace_path.read_text())["result"]["candidate"] == "probe"
    text = repr(res)
    assert text.startswith("# atlas_solve: sum_of_list") and "public examples 2/2" in text
    html = res._repr_html_()
    assert "<span style=" in html and "passed" in html  # pygments' inline colours, verdict badges
    bundle = res._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}  # no kernel here: no widget view
    # plain-text progress outside a notebook: one line per event
    out = capsys.readouterr().out
    assert "[verify] probe: 2/2 public tests passed" in out and "trace written to" in out


def test_cell_magic_takes_the_statement_from_the_body(shell, model):
    res = shell.run_cell_magic("atlas_solve", "--model scripted-test --condition B --k 1 --quiet", CELL)
    assert res.problem.public_tests[0].input.strip() == "1 2"
    assert res.config.condition == "B" and res.config.k == 1 and res.config.n_plans == 1  # n_plans clipped to k


def test_config_traits_are_the_defaults(shell, model):
    shell.run_line_magic("config", 'AtlasMagics.model = "scripted-test"')
    shell.run_line_magic("config", 'AtlasMagics.condition = "d"')
    shell.run_line_magic("config", "AtlasMagics.k = 2")
    shell.run_line_magic("config", "AtlasMagics.max_tokens = 50")
    shell.run_line_magic("config", 'AtlasMagics.overrides = {"repair_rounds": 1, "n_self_test_inputs": 2}')
    shell.run_line_magic("config", "AtlasMagics.progress = False")
    res = shell.run_line_magic("atlas_solve", "example:sum_of_list")
    cfg = res.config
    assert (cfg.condition, cfg.k, cfg.max_tokens, cfg.repair_rounds, cfg.n_self_test_inputs) == ("D", 2, 50, 1, 2)
    # a line option beats the trait
    assert shell.run_line_magic("atlas_solve", "example:sum_of_list --condition A").config.condition == "A"


@pytest.mark.parametrize("line, fragment", [
    ("example:nope --model scripted-test", "no bundled example 'nope'"),
    ("missing_file.md --model scripted-test", "does not exist"),
    ("example:sum_of_list --model no-such-model", "unknown model"),
    ("example:sum_of_list --k x", "needs an integer"),
])
def test_errors_are_one_readable_line_not_a_traceback(shell, model, capsys, line, fragment):
    assert shell.run_line_magic("atlas_solve", line) is None
    err = capsys.readouterr().err
    assert err.startswith("atlas_solve: ") and fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_override_and_empty_cell_are_errors_too(shell, model, capsys):
    shell.run_line_magic("config", 'AtlasMagics.overrides = {"no_such_field": 1}')
    assert shell.run_line_magic("atlas_solve", "example:sum_of_list --model scripted-test") is None
    assert "invalid pipeline configuration" in capsys.readouterr().err
    shell.run_line_magic("config", "AtlasMagics.overrides = {}")
    assert shell.run_cell_magic("atlas_solve", "--model scripted-test", "   \n") is None
    assert "cell is empty" in capsys.readouterr().err


def test_model_is_loaded_once_per_kernel(shell, monkeypatch):
    import atlas_kernel.models.registry as registry

    loads = []

    def fake_load(spec=None, **kw):
        loads.append(spec)
        return scripted(probe=RIGHT)

    monkeypatch.setattr(registry, "load_model", fake_load)
    session._models.pop("fake-spec", None)
    first, second = (shell.run_line_magic("atlas_solve", "example:sum_of_list --model fake-spec --condition A --quiet")
                     for _ in range(2))
    assert loads == ["fake-spec"] and first.model is second.model
    session._models.pop("fake-spec", None)


def test_in_a_kernel_the_result_also_offers_its_widget(shell, model, monkeypatch):
    pytest.importorskip("ipywidgets")
    import atlas_kernel.widgets._base as base

    res = shell.run_line_magic("atlas_solve", "example:sum_of_list --model scripted-test --condition A --quiet")
    monkeypatch.setattr(base, "in_kernel", lambda: True)
    bundle = res._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    box = res.widget()
    buttons = {b.description: b for b in box.children[1].children}
    buttons["Open trace viewer"].click()
    assert type(box.children[2].children[0]).__name__ == "TraceViewer"
    buttons["Open in stepper"].click()
    stepper = box.children[2].children[0]
    assert type(stepper).__name__ == "PipelineStepper" and stepper.run.index == 0  # a fresh run to step through


def test_in_a_kernel_progress_is_a_live_widget_that_stays_open(shell, model, monkeypatch):
    pytest.importorskip("ipywidgets")
    import IPython.display

    import atlas_kernel.widgets._base as base
    from atlas_kernel.widgets.solve_progress import SolveProgress

    shown = []
    monkeypatch.setattr(base, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    res = shell.run_line_magic("atlas_solve", "example:sum_of_list --model scripted-test --condition A")
    prog = shown[0]
    assert isinstance(prog, SolveProgress) and res is not None
    # the widget stays on the page after the run (a closed widget has no comm and vanishes)
    assert prog.comm is not None and prog.finished and prog.bar.value == 1.0 and "done" in prog.label.value


@pytest.mark.real_model
def test_magic_with_the_real_default_model(shell, default_model, capsys):
    session.register_model("qwen-coder-0.5b", default_model)  # the session fixture's instance: no second load
    try:
        res = shell.run_line_magic("atlas_solve", "example:sum_of_list --model qwen-coder-0.5b --condition A --max-tokens 48")
    finally:
        session._models.pop("qwen-coder-0.5b", None)
    assert res is not None and res.solution is not None
    assert res.summary()["model"] == "qwen-coder-0.5b" and 0 < res.summary()["tokens"] <= 48
    assert len(res.verdicts) == 2 and all(v.verdict for v in res.verdicts)
    assert "[final]" in capsys.readouterr().out
