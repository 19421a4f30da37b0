"""Training and leave-problems-out evaluation of the Lens C(x).

Loss: margin ranking on (passing, failing) pairs of the SAME problem — E(fail) should exceed
E(pass) by a margin — plus a small binary cross-entropy term on exp(-E) as a calibration aid
(weight `bce_weight`, classes weighted by their frequency, since passing candidates are rare).
Inputs are standardised with the training set's mean and std, and that affine map is folded
into W1/b1 afterwards, so the saved Lens is the plain MLP the kernels compute.

Evaluation (`cross_validate`) is k-fold over PROBLEMS: no problem is ever in both the training
and the test part of a fold. It reports pooled AUC, mean within-problem AUC, and on mixed problems
(some candidates pass, some fail) how often the lowest-energy candidate passes, against the
expectation of a random pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from atlas_kernel.lens.data import LensData
from atlas_kernel.lens.model import DEFAULT_HIDDEN, Lens


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200
    lr: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 1.0
    bce_weight: float = 0.2
    hidden: tuple[int, int] = DEFAULT_HIDDEN
    dropout: float = 0.1
    seed: int = 0


def preference_pairs(y: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (passing, failing) of every pass/fail pair within one problem (`group`)."""
    pos, neg = [], []
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        p = idx[y[idx] == 1]
        n = idx[y[idx] == 0]
        if len(p) and len(n):
            pp, nn = np.meshgrid(p, n, indexing="ij")
            pos.append(pp.ravel())
            neg.append(nn.ravel())
    if not pos:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(pos), np.concatenate(neg)


def train_lens(data: LensData, cfg: TrainConfig = TrainConfig()) -> Lens:
    import torch

    torch.manual_seed(cfg.seed)
    X = data.X.astype(np.float32)
    mu = X.mean(axis=0)
    sd = X.std(axis=0) + 1e-4
    Xt = torch.from_numpy((X - mu) / sd)
    y = torch.from_numpy(data.y.astype(np.float32))
    pos, neg = preference_pairs(data.y, data.group)
    pos_t, neg_t = torch.from_numpy(pos), torch.from_numpy(neg)
    init = Lens.init(data.dim, seed=cfg.seed, hidden=cfg.hidden, model_id=data.model_id)
    net = init.to_torch()
    drop = torch.nn.Dropout(cfg.dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n_pos = float(data.y.sum())
    w_pos = (len(data) - n_pos) / max(n_pos, 1.0)  # class weighting: passes are rare
    for _ in range(cfg.epochs):
        net.train()
        opt.zero_grad()
        e = net(drop(Xt)).reshape(-1)
        loss = torch.zeros(())
        if len(pos):
            loss = loss + torch.relu(cfg.margin - (e[neg_t] - e[pos_t])).mean()
        if cfg.bce_weight > 0:
            # P(pass) = exp(-E) in (0, 1]: a calibrated reading of the energy
            logp = -e
            log1mp = torch.log(-torch.expm1(-e.clamp_min(1e-6)))
            bce = -(w_pos * y * logp + (1 - y) * log1mp).mean()
            loss = loss + cfg.bce_weight * bce
        loss.backward()
        opt.step()
    net.eval()
    trained = Lens.from_torch(net, model_id=data.model_id, training_data_sha256=data.sha256(),
                              info={"train": cfg.__dict__ | {"hidden": list(cfg.hidden)}, "n": len(data),
                                    "n_pass": int(n_pos), "n_problems": len(np.unique(data.group))})
    return _fold_standardisation(trained, mu, sd)


def _fold_standardisation(lens: Lens, mu: np.ndarray, sd: np.ndarray) -> Lens:
    """W1 ((x - mu) / sd) + b1 == (W1 / sd) x + (b1 - (W1 / sd) mu): the kernels see raw embeddings."""
    w = lens.weights()
    W1 = (w["W1"] / sd[None, :]).astype(np.float32)
    b1 = (w["b1"] - W1 @ mu).astype(np.float32)
    return Lens(W1, b1, w["W2"], w["b2"], w["w3"], w["b3"], **lens.metadata_kwargs())


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """P(score of a positive > score of a negative), ties counted half. Higher score = positive."""
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    if not len(pos) or not len(neg):
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allv))
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(allv))
    r[order] = ranks
    rpos = r[: len(pos)].sum()
    return float((rpos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def selection_stats(energies: np.ndarray, data: LensData) -> dict[str, Any]:
    """On mixed problems: does the lowest-energy candidate pass? vs a random pick's expectation."""
    mixed = data.mixed_groups()
    hits, expected, within = 0, 0.0, []
    for g in mixed:
        idx = np.flatnonzero(data.group == g)
        best = idx[np.argmin(energies[idx])]
        hits += int(data.y[best])
        expected += float(data.y[idx].mean())
        a = auc(-energies[idx], data.y[idx])
        if a is not None:
            within.append(a)
    n = len(mixed)
    return {"mixed_problems": n, "lowest_energy_passes": hits / n if n else None,
            "random_pick_passes": expected / n if n else None,
            "mean_within_problem_auc": float(np.mean(within)) if within else None}


def problem_folds(data: LensData, folds: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Row masks of the test part of each fold; folds split PROBLEMS (seeded shuffle), so a
    problem's candidates are never on both sides. Empty folds are skipped."""
    perm = np.random.default_rng(seed).permutation(np.unique(data.group))
    fold_of = {int(g): i % folds for i, g in enumerate(perm)}
    for k in range(folds):
        test = np.array([fold_of[int(g)] == k for g in data.group])
        if test.any():
            yield test


def out_of_fold_energies(data: LensData, fit: Callable[[LensData], Callable[[np.ndarray], np.ndarray]],
                         folds: int = 5, seed: int = 0) -> np.ndarray:
    """k-fold over problems: each row's energy comes from a scorer fitted without its problem.
    `fit(train_data)` returns a function embeddings -> energies (lower = more likely correct)."""
    energies = np.full(len(data), np.nan, dtype=np.float64)
    for test in problem_folds(data, folds, seed):
        train = data.subset(~test)
        if train.y.sum() == 0 or train.y.min() == 1:
            energies[test] = 0.0  # nothing to learn from: every candidate ties
            continue
        energies[test] = np.asarray(fit(train)(data.X[test]), dtype=np.float64)
    return energies


def streamed_energies(data: LensData, start: Callable[[LensData], Lens], update_labels: np.ndarray,
                      folds: int = 5, seed: int = 0, *, lr: float = 3e-4, steps: int = 5,
                      source: str = "public") -> np.ndarray:
    """Online recalibration, evaluated leave-problems-out: per fold, `start(train)` gives the
    starting Lens; the fold's test problems then arrive one at a time in file order. Each is scored
    with the Lens as it stands, and only afterwards does the Lens take its `OnlineLens.update` from
    that problem's `update_labels` (public-example outcomes for an honest run; hidden-test
    outcomes for the explicit opt-in). A problem's energies therefore never depend on its own labels."""
    from atlas_kernel.lens import ops
    from atlas_kernel.lens.scoring import OnlineLens

    energies = np.full(len(data), np.nan, dtype=np.float64)
    for test in problem_folds(data, folds, seed):
        online = OnlineLens(start(data.subset(~test)), lr=lr, steps=steps)
        for g in sorted({int(g) for g in data.group[test]}):
            idx = np.flatnonzero(data.group == g)
            energies[idx] = np.asarray(ops.energy(data.X[idx], online.lens), dtype=np.float64)
            online.update(data.X[idx], update_labels[idx].astype(bool), source=source)
    return energies


def cross_validate(data: LensData, cfg: TrainConfig = TrainConfig(), folds: int = 5, seed: int = 0,
                   baseline: np.ndarray | None = None) -> dict[str, Any]:
    """k-fold over problems. `baseline`: an energy-like score per row (lower = better), e.g. the
    negative mean log-probability, evaluated on the same folds for comparison."""
    from atlas_kernel.lens import ops

    def fit(train: LensData) -> Callable[[np.ndarray], np.ndarray]:
        lens = train_lens(train, cfg)
        return lambda x: np.asarray(ops.energy(x, lens))

    energies = out_of_fold_energies(data, fit, folds, seed)
    out = {"folds": folds, "n": len(data), "n_pass": int(data.y.sum()), "n_problems": int(len(np.unique(data.group))),
           "auc": auc(-energies, data.y), **selection_stats(energies, data)}
    if baseline is not None:
        out["baseline"] = {"auc": auc(-baseline, data.y), **selection_stats(baseline, data)}
    return out
