"""A solve's event stream as terminal text (`atlas solve`, and the magic outside a notebook).

On a terminal, progress is one status line rewritten in place (phase, candidates so far, tokens,
tokens/s) with the decisive events printed above it; when piped, each event is one plain line.
"""

from __future__ import annotations

import sys
from typing import TextIO

from atlas_kernel.pipeline.events import Event, SpeedTally


class ProgressPrinter:
    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.phase = ""
        self.candidates = 0
        self.tokens = 0
        self.speed = SpeedTally()
        self._width = 0

    def __call__(self, ev: Event) -> None:
        d = ev.data
        if ev.kind == "phase_started":
            self.phase = ev.phase
        elif ev.kind == "candidate":
            self.candidates += 1
        elif ev.kind == "llm_call":
            self.tokens += d.get("completion_tokens", 0)
            self.speed.add(ev)
        if not self.live:
            if ev.kind not in ("phase_started",):
                print(ev.describe(), file=self.stream, flush=True)
            return
        line = f"[{self.phase}] candidates {self.candidates}, {self.tokens} tokens ({self.speed.text()})"
        if ev.kind in ("selection", "final", "early_stop", "route", "sstar", "self_tests"):
            self._clear()
            print(ev.describe(), file=self.stream, flush=True)
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def _clear(self) -> None:
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0

    def close(self) -> None:
        self._clear()
