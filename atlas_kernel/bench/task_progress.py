"""Live progress of a benchmark run: tasks done, pass rate so far, ETA.

In Jupyter: a `tqdm.notebook` bar (a widget). On a terminal: a `tqdm` bar when tqdm is installed.
Piped or logged (not a TTY): one plain line per finished task, which stays readable in a file.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from atlas_kernel.pipeline.events import speed_text


def row_score(row: dict[str, Any]) -> float:
    """A row's contribution to the pass rate: pass/fail, or c/n (the pass@1 estimate) for sampled rows."""
    if row.get("n_samples"):
        return row["n_correct"] / row["n_samples"]
    return 1.0 if row.get("passed") else 0.0


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _fmt_s(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class BenchProgress:
    """`update(row)` per finished task. `style`: auto | notebook | bar | plain | none."""

    def __init__(self, total: int, *, already_done: dict[str, list[dict[str, Any]]] | None = None, label: str = "bench",
                 style: str = "auto", stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        # pass rate per condition (an ablation's conditions are not pooled); resumed rows count
        self.per: dict[str, list[float]] = {k: [float(len(v)), sum(row_score(r) for r in v)] for k, v in (already_done or {}).items()}
        self.done = sum(int(v[0]) for v in self.per.values())
        self.new = 0  # finished in this session: the ETA uses only these (resumed rows cost nothing now)
        # this session's generation: tokens, model seconds, drafted and accepted tokens (for tok/s)
        self.gen = {"tokens": 0.0, "model_s": 0.0, "drafted_tokens": 0.0, "accepted_tokens": 0.0}
        self.t0 = time.monotonic()
        if style == "auto":
            style = "notebook" if _in_notebook() else ("bar" if getattr(self.stream, "isatty", lambda: False)() else "plain")
        self._bar: Any = None
        if style in ("notebook", "bar"):
            try:
                if style == "notebook":
                    from tqdm.notebook import tqdm
                else:
                    from tqdm import tqdm
                self._bar = tqdm(total=total, initial=self.done, desc=label, unit="task", file=None if style == "notebook" else self.stream,
                                 dynamic_ncols=True)
                self._bar.set_postfix_str(self._postfix())
            except Exception:  # noqa: BLE001 - no tqdm, or tqdm.notebook without working widgets: plain lines
                style = "plain"
        self.style = style

    def _postfix(self) -> str:
        parts = [f"{k} {v[1] / v[0]:.0%}" for k, v in self.per.items() if v[0]]
        speed = self.speed()
        return "pass " + (" ".join(parts) if parts else "-") + (f" | {speed}" if speed else "")

    def speed(self) -> str:
        """Tokens per second of the model over this session's tasks (rows of older runs without
        model time do not count), and the drafts' acceptance only when drafting ran."""
        g = self.gen
        if g["model_s"] <= 0:
            return ""
        acc = g["accepted_tokens"] / g["drafted_tokens"] if g["drafted_tokens"] else None
        return speed_text(g["tokens"] / g["model_s"], acc)

    def eta_s(self) -> float | None:
        if not self.new:
            return None
        return (time.monotonic() - self.t0) / self.new * (self.total - self.done)

    def update(self, row: dict[str, Any], label: str | None = None) -> None:
        label = label or self.label
        self.done += 1
        self.new += 1
        acc = self.per.setdefault(label, [0.0, 0.0])
        acc[0] += 1
        acc[1] += row_score(row)
        if row.get("model_s"):
            for k in self.gen:
                self.gen[k] += float(row.get(k) or 0)
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(1)
        elif self.style == "plain":
            eta = self.eta_s()
            speed = self.speed()
            print(f"[{label}] {self.done}/{self.total} {row['task_id']}: {row.get('grade')} | "
                  f"{label} pass so far {acc[1]:.4g}/{int(acc[0])} = {acc[1] / acc[0]:.1%} | "
                  + (f"{speed} | " if speed else "")
                  + f"ETA {_fmt_s(eta) if eta is not None else '?'}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self.style == "none":
            return
        if self._bar is not None:
            self._bar.write(text, file=None if self.style == "notebook" else self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
