"""A scripted model that a *subprocess* can load: `--model scripted:PATH.json` (tests only).

`ScriptedModel` takes Python callables, which cannot cross into a worker process or a fresh
`atlas bench` process. This spec describes its answers in a JSON file instead, so tests can
kill and resume a real `atlas bench` run (or exercise worker processes and Ray actors) without
the real model. Only the benchmark harness resolves `scripted:` specs; `atlas solve` and the
model registry do not know them, so they never appear as a user-facing model.

    {"name": "scripted-test",
     "delay_s": 0.2,                       # sleep per generation: makes runs slow enough to kill
     "rules": [{"contains": "sum of", "response": "```python\\n...\\n```"}],
     "default": "```python\\nprint(0)\\n```"}

The first rule whose `contains` occurs in the prompt (chat messages joined) answers; otherwise
`default`. Answers depend on the prompt only, so runs are deterministic.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from atlas_kernel.errors import AtlasError
from atlas_kernel.models.base import Prompt, Sampling

PREFIX = "scripted:"


def is_scripted_spec(spec: str | None) -> bool:
    return bool(spec) and str(spec).startswith(PREFIX)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AtlasError(f"cannot read scripted model file {path} ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise AtlasError(f"{path}:{exc.lineno}: scripted model file is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("default", ""), str):
        raise AtlasError(f"{path}: a scripted model file is an object with 'rules' and a 'default' string")
    for i, rule in enumerate(data.get("rules", [])):
        if not isinstance(rule, dict) or not isinstance(rule.get("contains"), str) or not isinstance(rule.get("response"), str):
            raise AtlasError(f"{path}: rule {i} needs string fields 'contains' and 'response'")
    return data


def load_scripted(spec: str):
    """A `ScriptedModel` answering from the rules in the file named by `scripted:PATH`."""
    from atlas_kernel.models.scripted import ScriptedModel, _prompt_text

    path = Path(spec[len(PREFIX):]).expanduser()
    data = _read(path)
    rules = [(r["contains"], r["response"]) for r in data.get("rules", [])]
    default = data.get("default", "")
    delay = float(data.get("delay_s", 0.0))

    def respond(prompt: Prompt, sampling: Sampling) -> str:
        if delay > 0:
            time.sleep(delay)  # stands in for decoding time; sleeping costs no CPU
        text = _prompt_text(prompt)
        for needle, response in rules:
            if needle in text:
                return response
        return default

    return ScriptedModel(respond, name=str(data.get("name", "scripted")))
