"""The Lens as the pipeline's energy scorer, and its online recalibration.

`default_scorer(model)` finds a trained lens for the model (`$ATLAS_CACHE_DIR/lenses/<name>.npz`,
then the lenses shipped in `atlas_kernel/data/lenses/`) and returns a scorer the pipeline's lens
phase calls; None when there is none (selection then breaks ties by log-probability).

Online recalibration (`OnlineLens`) updates C(x) during a run from outcomes the pipeline may see:
whether each candidate passed the problem's PUBLIC examples. It never reads hidden tests. (A run
may also feed it hidden-test outcomes of earlier, different problems — `update(...,
source="hidden")` — only when the user asks for it explicitly; such runs are marked and must not
be reported as honest scores.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from atlas_kernel.lens.model import Lens


def lens_path_for(model_name: str) -> Path | None:
    from atlas_kernel.models.registry import cache_dir

    for root in (cache_dir() / "lenses", Path(__file__).resolve().parents[1] / "data" / "lenses"):
        p = root / f"{model_name}.npz"
        if p.exists():
            return p
    return None


class LensScorer:
    def __init__(self, lens: Lens, model_id: str | None = None, name: str | None = None):
        self.lens = lens
        self.model_id = model_id
        self.name = name or f"lens {lens.model_id or ''}".strip()

    def __call__(self, problem: Any, candidates: Sequence[Any], embeddings: Any) -> np.ndarray:
        from atlas_kernel.lens import ops

        x = np.asarray(embeddings, dtype=np.float32)
        self.lens.check_embeddings(x, model_id=self.model_id)
        return np.asarray(ops.energy(x, self.lens), dtype=np.float32)


def default_scorer(model: Any) -> LensScorer | None:
    if os.environ.get("ATLAS_NO_LENS"):
        return None
    name = getattr(model, "name", None)
    if not name:
        return None
    path = lens_path_for(name)
    if path is None:
        return None
    return LensScorer(Lens.load(path), model_id=name, name=f"lens {path.name}")


class OnlineLens(LensScorer):
    """A LensScorer whose weights take a few ranking steps after each problem."""

    def __init__(self, lens: Lens, model_id: str | None = None, lr: float = 3e-4, steps: int = 5, margin: float = 1.0,
                 start: str = "given"):
        super().__init__(lens, model_id, name="online lens")
        self.lr, self.steps, self.margin = lr, steps, margin
        self.start = start  # where the weights came from: a shipped lens file, or "untrained"
        self.updates: list[dict[str, Any]] = []
        self._seen: dict[str, np.ndarray] = {}  # candidate id -> embedding, for the current problem

    def __call__(self, problem: Any, candidates: Sequence[Any], embeddings: Any) -> np.ndarray:
        energies = super().__call__(problem, candidates, embeddings)
        x = np.asarray(embeddings, dtype=np.float32)
        for c, row in zip(candidates, x):
            self._seen[str(c.id)] = row
        return energies

    def finish_problem(self, public_pass: dict[str, bool]) -> dict[str, Any]:
        """After a problem's run: one update from the candidates this scorer scored, labelled by
        whether each passed ALL of the problem's public examples (what the pipeline itself saw).
        Forgets the problem either way; returns what happened, for the run's log."""
        ids = [i for i in self._seen if i in public_pass]
        x = np.stack([self._seen[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)
        labels = [bool(public_pass[i]) for i in ids]
        self._seen = {}
        updated = bool(ids) and self.update(x, labels, source="public")
        return {"updated": updated, "scored": len(ids), "public_pass": int(sum(labels)), "updates": len(self.updates),
                "start": self.start}

    def update(self, embeddings: np.ndarray, passed: Sequence[bool], *, source: str = "public") -> bool:
        """Pairs (passing, failing) of ONE problem's candidates; returns whether weights changed."""
        if source not in ("public", "self_tests", "hidden"):
            raise ValueError("source is 'public', 'self_tests' or 'hidden' (explicit opt-in, not honest)")
        y = np.asarray(passed, dtype=bool)
        if y.all() or not y.any():
            return False
        import torch

        net = self.lens.to_torch()
        opt = torch.optim.SGD(net.parameters(), lr=self.lr)
        x = torch.from_numpy(np.asarray(embeddings, dtype=np.float32))
        pos = torch.from_numpy(np.flatnonzero(y))
        neg = torch.from_numpy(np.flatnonzero(~y))
        for _ in range(self.steps):
            opt.zero_grad()
            e = net(x).reshape(-1)
            loss = torch.relu(self.margin - (e[neg][None, :] - e[pos][:, None])).mean()
            loss.backward()
            opt.step()
        info = dict(self.lens.info)
        info["online_updates"] = info.get("online_updates", 0) + 1
        info["online_sources"] = sorted(set(info.get("online_sources", [])) | {source})
        self.lens = Lens.from_torch(net, model_id=self.lens.model_id, training_data_sha256=self.lens.training_data_sha256,
                                    info=info)
        self.updates.append({"n": int(len(y)), "n_pass": int(y.sum()), "source": source})
        return True


def online_scorer_for(model: Any, **kwargs: Any) -> OnlineLens:
    """An OnlineLens for a run: it starts from the model's trained lens when there is one,
    otherwise from an untrained `Lens.init` of the model's embedding size (it then learns only
    from the run's own public-example outcomes)."""
    name = getattr(model, "name", None)
    trained = default_scorer(model)
    if trained is not None:
        return OnlineLens(trained.lens, model_id=name, start=trained.name, **kwargs)
    dim = int(model.embedding_dim)
    return OnlineLens(Lens.init(dim, seed=0, model_id=name), model_id=name, start="untrained", **kwargs)
