"""Power for the energy estimate: a stated figure, or the GPU's own reading when one is present.

energy (J) = power (W) x time (s). Without a measurement we use a stated figure: `--power-watts`,
else DEFAULT_CPU_WATTS. On a machine with an NVIDIA GPU and `nvidia-smi`, a background sampler
reads `power.draw` (summed over GPUs) once a second and the mean reading over the run is used;
that is board power of the GPUs only, not the CPU's, and the run records which source it used.
Only the standard library is imported here, so this module also works on a bare GPU host.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from typing import Any

# Stated default: the package power (TDP) of a typical desktop CPU. A laptop or a cloud vCPU slice
# draws less, a server socket more; pass --power-watts for your machine.
DEFAULT_CPU_WATTS = 65.0


def gpu_power_draw(timeout_s: float = 5.0) -> float | None:
    """Summed `nvidia-smi --query-gpu=power.draw` in watts, or None without a readable GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=power.draw", "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    total, seen = 0.0, False
    for line in out.stdout.splitlines():
        try:
            total += float(line.strip())
            seen = True
        except ValueError:  # "[N/A]" on boards that do not report power
            continue
    return total if seen else None


class PowerMeter:
    """A stated figure, or mean sampled GPU power while the meter runs."""

    def __init__(self, watts: float | None = None, *, interval_s: float = 1.0, probe_gpu: bool = True):
        self.interval_s = interval_s
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if watts is not None:
            if watts <= 0:
                raise ValueError(f"power must be positive watts, got {watts}")
            self.source, self._stated = "stated (--power-watts)", float(watts)
        else:
            first = gpu_power_draw() if probe_gpu else None
            if first is not None:
                self.source, self._stated = "nvidia-smi power.draw (GPU board power, mean of samples)", None
                self._samples.append(first)
            else:
                self.source, self._stated = f"stated default CPU figure ({DEFAULT_CPU_WATTS:.0f} W)", DEFAULT_CPU_WATTS

    @property
    def measured(self) -> bool:
        return self._stated is None

    def start(self) -> "PowerMeter":
        if self.measured and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="atlas-power", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            w = gpu_power_draw()
            if w is not None:
                self._samples.append(w)

    def watts(self) -> float:
        if self._stated is not None:
            return self._stated
        return sum(self._samples) / len(self._samples) if self._samples else 0.0

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 6)
            self._thread = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "watts": round(self.watts(), 3), "samples": len(self._samples),
                "measured": self.measured, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
