"""The layering rule, enforced: the import-linter contracts in pyproject.toml [tool.importlinter]
(front ends -> bench -> pipeline | grading -> models : lens : judging -> sandbox | problems), plus
what import-linter cannot see (widgets/ lives outside atlas_kernel/ on disk), plus the one lazy
re-export style and a cheap `import atlas_kernel`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]

# every package below the front ends (none may import the widgets)
BELOW_FRONT_ENDS = ("bench", "pipeline", "grading", "judging", "models", "lens", "sandbox", "problems", "errors")
FRONT_ENDS = ("atlas_kernel.cli", "atlas_kernel.magic", "atlas_kernel.magic_args", "atlas_kernel.widgets")
LAZY_PACKAGES = ("atlas_kernel", "atlas_kernel.lens", "atlas_kernel.bench", "atlas_kernel.sandbox", "atlas_kernel.widgets")


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_import_contract_is_kept(contract: str) -> None:
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", "--no-logo", "--contract", contract], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_nothing_below_the_front_ends_imports_them() -> None:
    offenders = []
    for pkg in BELOW_FRONT_ENDS:
        base = ROOT / "atlas_kernel" / pkg
        for path in sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]:
            if not path.exists():
                continue
            bad = sorted(m for m in _imports(path) if m.startswith(FRONT_ENDS) or m in ("atlas_kernel.widgets",))
            offenders += [f"{path.relative_to(ROOT)} imports {m}" for m in bad]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_export_resolves(package: str) -> None:
    """Each name of a package's export table loads (a table left pointing at a moved module fails here)."""
    import importlib

    mod = importlib.import_module(package)
    table = mod._EXPORTS
    assert set(mod.__all__) <= set(table) | {"__version__"}
    for name in table:
        assert getattr(mod, name) is not None, name


def test_importing_the_packages_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, json\n"
        "import atlas_kernel\n"
        "light = 'numpy' not in sys.modules\n"
        "import atlas_kernel.lens, atlas_kernel.bench, atlas_kernel.sandbox, atlas_kernel.widgets\n"
        "heavy = ['llama_cpp', 'torch', 'atlas_kernel._lens_ext', 'ipywidgets', 'matplotlib', 'atlas_kernel.pipeline']\n"
        "print(json.dumps({'numpy_after_root': not light, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(proc.stdout) == {"numpy_after_root": False, "loaded": []}
