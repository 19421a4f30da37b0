"""What every benchmark result file records beside its figures: the command that made it and the
code version (commit, and whether the working tree had uncommitted changes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit(short: bool = False) -> str | None:
    return _git("rev-parse", *(["--short"] if short else []), "HEAD")


def provenance() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"command": " ".join([Path(sys.executable).name if "venv" not in sys.executable else ".venv/bin/python"]
                                + sys.argv),
            "git_commit": git_commit(), "uncommitted_changes": bool(status) if status is not None else None}
