"""Which tasks a benchmark run covers: suite filters, then every N-th task, then the first N.

The selection is fixed before any result is seen, and recorded in run.json as
`Selection.to_dict()` (the keys limit, tasks, every, since, until, difficulty).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from atlas_kernel.errors import AtlasError
from atlas_kernel.problems.types import Task

__all__ = ["Selection", "select_tasks"]


@dataclass(frozen=True)
class Selection:
    limit: int | None = None
    tasks: tuple[str, ...] | None = None  # task ids (None: all)
    every: int | None = None
    since: str | None = None  # LiveCodeBench contest date window
    until: str | None = None
    difficulty: str | None = None

    @classmethod
    def of(cls, limit: int | None = None, tasks: Sequence[str] | str | None = None, every: int | None = None,
           since: str | None = None, until: str | None = None, difficulty: str | None = None) -> "Selection":
        """From the public arguments: `tasks` may be a comma-separated string."""
        if isinstance(tasks, str):
            tasks = [t.strip() for t in tasks.split(",") if t.strip()]
        return cls(limit, tuple(tasks) if tasks else None, every, since, until, difficulty)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tasks"] = list(self.tasks) if self.tasks else None
        return d

    def select(self, suite: str) -> list[Task]:
        return select_tasks(suite, **self.to_dict())


def select_tasks(suite: str, *, limit: int | None = None, tasks: Sequence[str] | None = None, every: int | None = None,
                 since: str | None = None, until: str | None = None, difficulty: str | None = None) -> list[Task]:
    """The tasks of a run: suite filters (ids, LiveCodeBench date window, difficulty), then every
    N-th task, then the first `limit`. The selection is fixed before any result is seen."""
    from atlas_kernel.problems import load_suite

    name = suite.partition(":")[0]
    is_lcb = name in ("lcb", "livecodebench")
    if (since or until) and not is_lcb:
        raise AtlasError("--since/--until filter LiveCodeBench problems by contest date: use them with --suite lcb:FILE")
    if every is not None and every < 1:
        raise AtlasError(f"--every must be at least 1, got {every}")
    if limit is not None and limit < 1:
        raise AtlasError(f"--limit must be at least 1, got {limit}")
    chosen = load_suite(suite, task_ids=list(tasks) if tasks else None, since=since, until=until,
                        difficulty=difficulty if is_lcb else None)
    if difficulty and not is_lcb:
        chosen = [t for t in chosen if str(t.problem.metadata.get("difficulty", "")).lower() == difficulty.lower()]
    if every:
        chosen = chosen[::every]
    if limit is not None:
        chosen = chosen[:limit]
    if not chosen:
        raise AtlasError(f"no task of {suite!r} matches the selection — loosen --since/--until/--difficulty/--tasks")
    return chosen
