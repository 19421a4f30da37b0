"""JupyterLab + headless Chromium (Debian's /usr/bin/chromium through Playwright) for the browser
test and for docs/make_screenshots.py. Never `playwright install`: the system browser is used."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

CHROMIUM = os.environ.get("ATLAS_CHROMIUM") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                                 else shutil.which("chromium") or "/usr/bin/chromium")
# the notebook on screen (other open documents stay in the DOM, hidden)
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-breakpad", "--disable-crash-reporter"]


def missing_requirements() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; the Debian chromium is used, no `playwright install`)"
    try:
        import jupyterlab  # noqa: F401
        import jupyterlab_widgets  # noqa: F401
    except ImportError:
        return "jupyterlab / ipywidgets are not installed (pip install jupyterlab ipywidgets)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab_server(root: Path, state: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on loopback serving `root`, settings and runtime files under `state`.
    Yields (base url, token)."""
    token = secrets.token_hex(16)
    port = _free_port()
    settings = state / "settings"
    # render every cell (no virtual scrolling), so outputs of all cells are in the DOM
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    # no announcements pop-up asking to fetch news
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(state / "runtime"), IPYTHONDIR=str(state / "ipython"))
    log = open(state / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.token={token}", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--ServerApp.terminals_enabled=False",
         # nothing from the network: no update checks, no PyPI extension manager
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
         # window.jupyterapp: run commands by id instead of clicking menus (a menu click raced the
         # notebook's layout and timed out in fresh-clone runs)
         "--LabApp.expose_app_in_browser=True",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({proc.returncode}): {(state / 'jupyterlab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("JupyterLab did not start within 90 s")
            time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def chromium_page(user_data_dir: Path, width: int = 1280, height: int = 1600) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # a persistent context is how Playwright takes a --user-data-dir; a fresh empty one each time
        ctx = pw.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            yield page
        finally:
            ctx.close()


def open_and_run_all(page, url: str, token: str, notebook: str, timeout_s: float = 540) -> float:
    """Open a notebook in JupyterLab, run all cells, wait until every code cell has run.
    Returns the seconds the run took."""
    # ?reset: an empty workspace, so only this notebook is open (and in the DOM)
    page.goto(f"{url}/lab/tree/{notebook}?reset&token={token}", wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector(f"{CURRENT} .jp-Cell", timeout=120_000)
    # the kernel must be up before "Run All". The toolbar's execution indicator says "idle" before
    # any kernel exists, so ask the notebook's session context (window.jupyterapp) instead.
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }", timeout=180_000, polling=500)
    t0 = time.time()
    prompts_js = f"() => [...document.querySelectorAll('{CURRENT} .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim())"
    for _attempt in range(2):
        # by command id, not by clicking the Run menu (those clicks were dropped while the notebook
        # settled). Not awaited: the command's promise resolves only when every cell has run.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")
        try:
            # once a cell is queued its prompt turns to [*]; retry only while every prompt is still [ ]
            page.wait_for_function(f"() => ({prompts_js})().some(p => p !== '[ ]:')", timeout=60_000, polling=500)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            pass
    n_code = page.locator(f"{CURRENT} .jp-CodeCell").count()
    page.wait_for_function(
        """(n) => {
            const prompts = [...document.querySelectorAll('""" + CURRENT + """ .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
            const status = document.querySelector('""" + CURRENT + """ .jp-Notebook-ExecutionIndicator');
            return prompts.length === n && prompts.every(p => /^\\[\\d+\\]:$/.test(p))
                   && status && status.getAttribute('data-status') === 'idle';
        }""", arg=n_code, timeout=timeout_s * 1000, polling=1000)
    return time.time() - t0


def error_outputs(page) -> list[str]:
    return page.eval_on_selector_all(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                     "els => els.map(e => e.textContent)")
