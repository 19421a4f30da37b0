"""Cross-fitted lenses: one Lens per fold of a suite's tasks, each trained without its fold's labels.

A benchmark that evaluates every task of a suite cannot rank the tasks with a Lens trained on
those same tasks' hidden-test labels. A cross-fitted set splits the tasks into folds; the lens of
fold k is trained on the candidates of the other folds only and ranks fold k's tasks. Every task
is then ranked by a lens that never saw its labels.

Manifest (JSON, written by `benchmark/bench_lens.py --write-crossfit DIR`):
  {"format": "atlas-lens-crossfit/1", "model_id": ..., "suite": ...,
   "folds": [{"lens": "fold0.npz", "sha256": ..., "tasks": [task ids this lens ranks]}, ...],
   "made_by": the command, "data_sha256": the LensData it was trained from}
Lens paths are relative to the manifest's directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from atlas_kernel.errors import AtlasError
from atlas_kernel.lens.model import Lens
from atlas_kernel.models.bundled import sha256_file as file_sha256

FORMAT = "atlas-lens-crossfit/1"


class CrossFitScorer:
    """An energy scorer that ranks each problem with the lens of the fold its id belongs to."""

    def __init__(self, lenses: dict[str, Lens], fold_of: dict[str, str], model_id: str | None = None,
                 name: str = "cross-fitted lens"):
        self.lenses, self.fold_of, self.model_id, self.name = lenses, fold_of, model_id, name

    def lens_for(self, problem_id: str) -> Lens:
        fold = self.fold_of.get(problem_id)
        if fold is None:
            raise AtlasError(f"task {problem_id!r} is in no fold of this cross-fitted lens set ({self.name}) — "
                             "make the set from lens data that covers the suite (bench_lens.py --write-crossfit)")
        return self.lenses[fold]

    def __call__(self, problem: Any, candidates: Sequence[Any], embeddings: Any) -> np.ndarray:
        from atlas_kernel.lens import ops

        lens = self.lens_for(problem.id)
        x = np.asarray(embeddings, dtype=np.float32)
        lens.check_embeddings(x, model_id=self.model_id)
        return np.asarray(ops.energy(x, lens), dtype=np.float32)


def write_manifest(directory: Path, model_id: str, suite: str, folds: list[tuple[Lens, list[str]]],
                   **extra: Any) -> Path:
    """Save each fold's lens as fold<k>.npz beside crossfit.json, which lists the tasks it ranks."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, (lens, tasks) in enumerate(folds):
        p = lens.save(directory / f"fold{k}.npz")
        entries.append({"lens": p.name, "sha256": file_sha256(p), "tasks": list(tasks)})
    path = directory / "crossfit.json"
    path.write_text(json.dumps({"format": FORMAT, "model_id": model_id, "suite": suite, "folds": entries, **extra},
                               indent=1), encoding="utf-8")
    return path


def _load_lens(path: Path) -> Lens:
    try:
        return Lens.load(path)
    except (OSError, ValueError, KeyError) as exc:  # a LensData file, a torn file, another format
        raise AtlasError(f"{path} is not a Lens file ({exc}) — give a lens written by Lens.save or "
                         "bench_lens.py --write-crossfit, not lens training data") from None


def load_crossfit(path: str | Path, model_id: str | None = None) -> CrossFitScorer:
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AtlasError(f"cross-fitted lens set {path} does not exist — make one with benchmark/bench_lens.py "
                         "--write-crossfit DIR") from None
    except (OSError, ValueError) as exc:
        raise AtlasError(f"{path} is not a cross-fitted lens set ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise AtlasError(f"{path} is not a cross-fitted lens set (format {FORMAT!r} expected)")
    if model_id and spec.get("model_id") and spec["model_id"] != model_id:
        raise AtlasError(f"{path} was trained on {spec['model_id']!r} embeddings, not {model_id!r} — "
                         "use the set made for this model")
    lenses: dict[str, Lens] = {}
    fold_of: dict[str, str] = {}
    folds = spec.get("folds")
    if not isinstance(folds, list) or not all(isinstance(e, dict) and "lens" in e and "tasks" in e for e in folds):
        raise AtlasError(f"{path} is not a cross-fitted lens set (each fold needs 'lens' and 'tasks')")
    for entry in folds:
        lens_path = path.parent / entry["lens"]
        if not lens_path.exists():
            raise AtlasError(f"{path} names {entry['lens']}, which is not beside it — copy the whole directory")
        if entry.get("sha256") and file_sha256(lens_path) != entry["sha256"]:
            raise AtlasError(f"{lens_path} changed after {path.name} was written — remake the set")
        lenses[entry["lens"]] = _load_lens(lens_path)
        for tid in entry["tasks"]:
            if tid in fold_of:
                raise AtlasError(f"{path}: task {tid!r} is in two folds — a task's lens must not have seen its labels")
            fold_of[tid] = entry["lens"]
    return CrossFitScorer(lenses, fold_of, model_id=model_id or spec.get("model_id"), name=f"cross-fitted lens {path}")


def load_scorer(path: str | Path, model_id: str | None = None) -> Any:
    """The energy scorer a `--lens FILE` names: a Lens (.npz) for every task, or a cross-fitted
    set (.json manifest) that ranks each task with its fold's lens."""
    from atlas_kernel.lens.scoring import LensScorer

    path = Path(path)
    if path.suffix == ".json":
        return load_crossfit(path, model_id)
    if path.suffix != ".npz":
        raise AtlasError(f"--lens takes a Lens file (.npz) or a cross-fitted set (crossfit.json), not {path.name}")
    if not path.exists():
        raise AtlasError(f"lens file {path} does not exist")
    return LensScorer(_load_lens(path), model_id=model_id, name=f"lens {path.name}")


def lens_identity(path: str | Path) -> dict[str, Any]:
    """What identifies a `--lens` file in run.json: its sha256, and for a cross-fitted set
    the sha256 of every fold's lens (so --resume refuses a remade set)."""
    path = Path(path)
    # the bytes, not the place: a moved checkout resumes (the path is in each session's record)
    ident: dict[str, Any] = {"source": "--lens", "sha256": file_sha256(path)}
    if path.suffix == ".json":
        spec = json.loads(path.read_text(encoding="utf-8"))
        ident["kind"] = "crossfit"
        ident["folds"] = [e.get("sha256") for e in spec.get("folds", [])]
    else:
        ident["kind"] = "file"
    return ident
