"""Lens training data: candidate embeddings with pass/fail labels, grouped by problem.

File format (`.npz`, written by `LensData.save`):
  X        float32 (N, D)  the generating model's mean-pooled embedding of each candidate's code
  y        int8 (N,)       1 = the candidate passed the problem's hidden tests (offline labelling
                           for training only; never available to the pipeline at solve time)
  group    int32 (N,)      index into `problems`
  meta     a JSON string:  {"model_id", "dim", "problems": [ids], "code_sha256": [per row],
                            "source": how the candidates were made, "created"}
`sha256()` hashes X, y and group: it is the `training_data_sha256` stored in a trained Lens.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atlas_kernel.errors import AtlasError


@dataclass
class LensData:
    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    problems: list[str]
    model_id: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int8)
        self.group = np.asarray(self.group, dtype=np.int32)
        n = self.X.shape[0]
        if self.X.ndim != 2 or self.y.shape != (n,) or self.group.shape != (n,):
            raise ValueError(f"lens data shapes disagree: X {self.X.shape}, y {self.y.shape}, group {self.group.shape}")
        if n and (self.group.min() < 0 or self.group.max() >= len(self.problems)):
            raise ValueError("group indices must index `problems`")

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def sha256(self) -> str:
        h = hashlib.sha256()
        for arr in (self.X, self.y, self.group):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def subset(self, mask: np.ndarray) -> "LensData":
        return LensData(self.X[mask], self.y[mask], self.group[mask], self.problems, self.model_id, dict(self.meta))

    def mixed_groups(self) -> list[int]:
        """Problems with at least one passing and one failing candidate."""
        out = []
        for g in np.unique(self.group):
            ys = self.y[self.group == g]
            if ys.min() == 0 and ys.max() == 1:
                out.append(int(g))
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta, model_id=self.model_id, dim=self.dim, problems=self.problems)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, X=self.X, y=self.y, group=self.group, meta=np.array(json.dumps(meta)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LensData":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return cls(z["X"], z["y"], z["group"], list(meta.pop("problems")), meta.pop("model_id"), meta)
        except FileNotFoundError:
            raise AtlasError(f"lens data file {path} does not exist — make one with benchmark/gen_lens_data.py") from None
        except (KeyError, ValueError, OSError) as exc:
            raise AtlasError(f"{path} is not a lens data file ({exc})") from None

    @classmethod
    def concat(cls, parts: list["LensData"]) -> "LensData":
        if not parts:
            raise ValueError("nothing to concatenate")
        if len({p.model_id for p in parts}) != 1:
            raise AtlasError("lens data of different models cannot be mixed: "
                             + ", ".join(sorted({p.model_id for p in parts})))
        problems: list[str] = []
        index: dict[str, int] = {}
        Xs, ys, gs = [], [], []
        for p in parts:
            remap = np.array([index.setdefault(pid, len(index)) for pid in p.problems], dtype=np.int32)
            for pid in p.problems:
                if pid not in problems:
                    problems.append(pid)
            Xs.append(p.X)
            ys.append(p.y)
            gs.append(remap[p.group] if len(p) else p.group)
        return cls(np.concatenate(Xs), np.concatenate(ys), np.concatenate(gs), problems, parts[0].model_id,
                   {"source": "concat"})
