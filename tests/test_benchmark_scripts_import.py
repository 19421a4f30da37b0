"""Every name a benchmark script imports from atlas_kernel exists: the scripts run rarely (minutes
to hours, by hand), so a moved module must fail here, not at the start of a long run."""

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[1] / "benchmark").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_script_imports_resolve(script):
    tree = ast.parse(script.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports inside functions too
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "atlas_kernel":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                    f"{script.name}: {node.module} has no {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "atlas_kernel":
                    importlib.import_module(alias.name)
