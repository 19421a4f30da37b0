"""Regenerate the screenshots in docs/images/ (PNG, each kept under 300 KB).

    .venv/bin/python docs/make_screenshots.py [--skip-browser]

1. energy_landscape.png: a real condition-E run of the embedded model on a bundled problem; the
   landscape of its candidates over the PCA plane (untrained Lens.init until a trained lens exists).
2. stepper.png / stepper_repairs.png: notebooks/02_pipeline_stepper.ipynb run in JupyterLab in
   headless Chromium (tests/browser_helpers.py), its parameters cell replaced papermill-style with a
   larger configuration, the stepper's Candidates and Repairs tabs captured.
3. quickstart_result.png: the %atlas_solve result widget from notebooks/01_quickstart.ipynb.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
MAX_BYTES = 300_000
sys.path.insert(0, str(ROOT / "tests"))


def save_small_png(png: bytes, path: Path) -> None:
    """Write a PNG, palette-quantised if needed to stay under MAX_BYTES."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    for colours, scale in ((256, 1.0), (128, 1.0), (128, 0.8), (64, 0.7)):
        im = img if scale == 1.0 else img.resize((int(img.width * scale), int(img.height * scale)), Image.LANCZOS)
        buf = io.BytesIO()
        im.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
        if buf.tell() < MAX_BYTES:
            break
    path.write_bytes(buf.getvalue())
    print(f"wrote {path.relative_to(ROOT)} ({buf.tell() // 1024} KB)")


def landscape() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from atlas_kernel import session
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.pipeline import Pipeline
    from atlas_kernel.problems import load_problem
    from atlas_kernel.widgets import plots

    model = session.get_model("smollm2")
    # six diverse samples + two plans: enough distinct programs to span a plane
    cfg = PipelineConfig.for_condition("E", k=6, n_plans=2, max_tokens=128, plan_tokens=64, n_self_test_inputs=3,
                                       repair_rounds=1, repair_perspectives=("logic", "edge_cases"), time_budget_s=900)
    run = Pipeline(model, cfg, style=session.prompt_style_for("smollm2", model)).start(load_problem("example:count_vowels"))
    run.run_to_end()
    art = ROOT / "tests" / "artifacts"
    art.mkdir(parents=True, exist_ok=True)
    run.trace.save(art / "screenshot_run.trace.json")
    fig = plots.landscape_for(run, model=model, resolution=61, size=(7.0, 5.0),
                              title=f"Energy landscape — untrained lens (Lens.init, seed 0)\n"
                                    f"{run.ctx.problem.id}: "
                                    f"{len(run.state.candidates)} SmolLM2 candidates, PCA plane")
    save_small_png(plots.figure_png(fig, dpi=110), OUT / "energy_landscape.png")


def _with_parameters(src: Path, dst: Path, source: str) -> None:
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = source
    dst.write_text(json.dumps(nb))


def browser() -> None:
    from browser_helpers import chromium_page, jupyterlab_server, missing_requirements, open_and_run_all

    why = missing_requirements()
    if why:
        print("skipping browser screenshots:", why)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        root.mkdir()
        state.mkdir()
        _with_parameters(ROOT / "notebooks" / "02_pipeline_stepper.ipynb", root / "02_pipeline_stepper.ipynb",
                         'MODEL = "smollm2"\nPROBLEM = "example:max_pair_gap"\nCONDITION = "E"\nK = 3\nN_PLANS = 1\n'
                         'MAX_TOKENS = 128\nOVERRIDES = {"plan_tokens": 64, "n_self_test_inputs": 3, "repair_rounds": 1,\n'
                         '             "repair_perspectives": ("logic",), "time_budget_s": 600}')
        shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", root / "01_quickstart.ipynb")
        with jupyterlab_server(root, state) as (url, token), chromium_page(Path(tmp) / "profile", width=1200) as page:
            t = open_and_run_all(page, url, token, "02_pipeline_stepper.ipynb", timeout_s=1500)
            print(f"02 ran in JupyterLab in {t:.0f}s")
            stepper = page.locator(".atlas-stepper").first
            for tab, name in (("Candidates", "stepper.png"), ("Tests", "stepper_tests.png")):
                stepper.locator(".lm-TabBar-tab", has_text=tab).first.click()
                page.wait_for_timeout(800)
                stepper.scroll_into_view_if_needed()
                save_small_png(stepper.screenshot(), OUT / name)
            t = open_and_run_all(page, url, token, "01_quickstart.ipynb", timeout_s=1500)
            print(f"01 ran in JupyterLab in {t:.0f}s")
            result = page.locator(".atlas-result").last
            result.scroll_into_view_if_needed()
            save_small_png(result.screenshot(), OUT / "quickstart_result.png")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--skip-landscape", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.skip_landscape:
        landscape()
    if not args.skip_browser:
        browser()


if __name__ == "__main__":
    main()
