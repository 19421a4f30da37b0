"""Resource limits of one sandboxed run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Per-run limits. All are enforced per *run* (one program execution).

    timeout_s      wall-clock limit; on expiry the whole run (its pid namespace) is killed
    cpu_s          CPU seconds per process (RLIMIT_CPU, SIGKILL at the limit); None = timeout_s + 1
    memory_mb      address space per process (RLIMIT_AS); if the OS refuses RLIMIT_AS the
                   sandbox watches resident memory instead and says so in `protections()`
    file_size_mb   largest file the program may write (RLIMIT_FSIZE)
    open_files     file descriptors per process (RLIMIT_NOFILE)
    max_processes  processes + threads of the run's uid (RLIMIT_NPROC, one uid per worker slot)
    output_bytes   captured stdout and stderr, each; stdout beyond this kills the run
                   (status "output_limit"), stderr keeps its head and tail
    tmp_mb         size of the private tmpfs work directory (/tmp inside the sandbox)
    stack_mb       RLIMIT_STACK; None keeps the default (usually 8 MB)
    """

    timeout_s: float = 10.0
    cpu_s: float | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    open_files: int = 64
    max_processes: int = 16
    output_bytes: int = 1 << 20
    tmp_mb: int = 64
    stack_mb: int | None = None

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("Limits.timeout_s must be > 0")
        for name in ("memory_mb", "file_size_mb", "open_files", "max_processes", "output_bytes", "tmp_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be > 0")

    @property
    def effective_cpu_s(self) -> float:
        return self.cpu_s if self.cpu_s is not None else self.timeout_s + 1.0

    def replace(self, **changes: Any) -> "Limits":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def wire(self, timeout_s: float | None = None) -> dict[str, Any]:
        """What the fork server reads (optionally with a different wall limit)."""
        wall = self.timeout_s if timeout_s is None else timeout_s
        cpu = self.cpu_s if self.cpu_s is not None else wall + 1.0
        return {"wall_s": wall, "cpu_s": cpu, "memory_mb": self.memory_mb, "file_size_mb": self.file_size_mb,
                "open_files": self.open_files, "max_processes": self.max_processes,
                "output_bytes": self.output_bytes, "tmp_mb": self.tmp_mb, "stack_mb": self.stack_mb}
