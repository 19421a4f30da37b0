"""The widgets/ directory is installed as atlas_kernel.widgets (pyproject package-dir mapping)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    assert cfg["package-dir"]["atlas_kernel.widgets"] == "widgets"
    found = {"atlas_kernel." + ".".join(p.parent.relative_to(ROOT / "atlas_kernel").parts)
             for p in (ROOT / "atlas_kernel").rglob("__init__.py") if p.parent != ROOT / "atlas_kernel"}
    missing = found - listed
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"


def test_widgets_import_from_another_directory(tmp_path):
    code = ("import atlas_kernel.widgets as w, atlas_kernel.widgets.plots as p; "
            "print(w.__file__); print(w.PipelineStepper.__module__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path, mod = out.stdout.split()
    assert Path(path) == ROOT / "widgets" / "__init__.py" and mod == "atlas_kernel.widgets.stepper"


def test_plots_do_not_need_ipywidgets(tmp_path):
    code = ("import sys; sys.modules['ipywidgets'] = None\n"
            "import atlas_kernel.widgets.plots, atlas_kernel.widgets.ablation\n"
            "from atlas_kernel.widgets import PipelineStepper\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "pip install ipywidgets" in out.stderr
    assert "plots" not in out.stderr.split("Traceback")[0]
