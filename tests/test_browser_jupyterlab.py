"""A real browser: JupyterLab on loopback, the quickstart notebook opened in headless Chromium
(Debian's /usr/bin/chromium driven by Playwright), Run All, and the widgets checked in the DOM.

Skips, with the reason, when chromium, playwright or jupyterlab is missing. A screenshot is saved
to tests/artifacts/browser_quickstart.png (gitignored)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from browser_helpers import chromium_page, error_outputs, jupyterlab_server, missing_requirements, open_and_run_all

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = missing_requirements()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("lab_root")
    state = tmp_path_factory.mktemp("lab_state")
    # a copy: JupyterLab saves notebooks (with outputs); the repository's copy must stay clean
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", root / "01_quickstart.ipynb")
    with jupyterlab_server(root, state) as (url, token):
        yield url, token, state


def test_quickstart_runs_in_jupyterlab_and_renders_the_widgets(lab, tmp_path):
    url, token, state = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(tmp_path / "chromium-profile") as page:
        elapsed = open_and_run_all(page, url, token, "01_quickstart.ipynb")
        try:
            # the live progress widget (core HBox/HTML/FloatProgress) and the result widget with its buttons
            progress = page.locator(".atlas-progress:visible").first
            progress.wait_for(state="visible", timeout=30_000)
            assert progress.locator(".widget-hprogress").count() == 1  # the FloatProgress inside the HBox
            result = page.locator(".atlas-result").first
            result.wait_for(state="visible", timeout=30_000)
            assert result.locator(".atlas-result-html").count() == 1
            assert result.locator("button", has_text="Open in stepper").count() == 1
            # the progress bar reached the end and reports "done"
            text = progress.inner_text()
            assert "done" in text and "candidates" in text and "tokens" in text, text
            # the trace viewer widget rendered its tabs
            assert page.locator(".atlas-trace-viewer .lm-TabBar-tab, .atlas-trace-viewer .p-TabBar-tab").count() >= 5
            # clicking a core widget button in the browser reaches the kernel: open the trace viewer
            result.locator("button", has_text="Open trace viewer").click()
            page.wait_for_function("() => document.querySelectorAll('.atlas-trace-viewer').length >= 2", timeout=60_000)
            errs = [e for e in error_outputs(page) if "atlas_solve:" in e or "Traceback" in e or "Error" in e]
            assert not errs, errs
        finally:
            result_el = page.locator(".atlas-result").first
            if result_el.count():
                result_el.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "browser_quickstart.png"), full_page=True)
    (ARTIFACTS / "browser_quickstart_time.txt").write_text(f"{elapsed:.1f}\n")
