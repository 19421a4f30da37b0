"""Ranking quality of the Lens C(x), leave-problems-out, against the baselines the pipeline would
otherwise use; the G(x) decision; and the shipped Lens.

    .venv/bin/python benchmark/bench_lens.py [--model qwen-coder-0.5b] [--folds 5] [--ship] [--data FILE.npz]

Reads benchmark/results/lens/<model>.npz (made by benchmark/gen_lens_data.py). Every score is
out-of-fold: k-fold over PROBLEMS, so no problem is ever in the training and the test part of
a fold. Reported per scorer:
  auc                      pooled AUC (energy ranks passing above failing candidates)
  lowest_energy_passes     on mixed problems (some candidates pass, some fail): the chosen one passes
  random_pick_passes       the same for a uniformly random pick (its expectation)
  tie_*                    the same restricted to where the Lens acts in selection: candidates tied
                           on the best public-example score of their problem
Scorers: the Lens at several sizes, the negative mean log-probability (the pipeline's tie-break
without a Lens), and C(x) + G(x) with G a learned low-rank metric term (kept only if it helps).
Online recalibration ("online" in the JSON): each fold's Lens (trained, or untrained Lens.init)
is streamed over the fold's held-out problems in file order, scoring each problem before it
updates from that problem's public-example outcomes (honest) or hidden outcomes (opt-in, marked
"honest": false; they only reach later, different problems).
With --ship, a Lens trained on all rows is written to atlas_kernel/data/lenses/<model>.npz when
its out-of-fold tie-restricted selection beats both random and log-probability.
Writes benchmark/results/lens_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np


from atlas_kernel.lens import ops
from atlas_kernel.lens.data import LensData
from atlas_kernel.lens.train import (TrainConfig, auc, out_of_fold_energies, selection_stats,
                                     streamed_energies, train_lens)

ROOT = Path(__file__).resolve().parents[1]


def tie_mask(data: LensData) -> np.ndarray:
    """Rows with their problem's best public-example score: where selection falls to the Lens."""
    rows = data.meta["rows"]
    frac = np.array([r["public_passed"] / r["public_total"] if r["public_total"] else 0.0 for r in rows])
    keep = np.zeros(len(data), bool)
    for g in np.unique(data.group):
        idx = np.flatnonzero(data.group == g)
        keep[idx[frac[idx] == frac[idx].max()]] = True
    return keep


def report(energies: np.ndarray, data: LensData, ties: np.ndarray) -> dict[str, Any]:
    out = {"auc": auc(-energies, data.y), **selection_stats(energies, data)}
    t = data.subset(ties)
    st = selection_stats(energies[ties], t)
    out.update({f"tie_{k}": v for k, v in st.items()})
    return out


def logprob_energy(data: LensData) -> np.ndarray:
    lp = np.array([np.nan if r["mean_logprob"] is None else r["mean_logprob"] for r in data.meta["rows"]])
    fill = np.nanmedian(lp) if np.isfinite(lp).any() else 0.0
    return -np.where(np.isfinite(lp), lp, fill)


def fit_lens(cfg: TrainConfig) -> Callable[[LensData], Callable[[np.ndarray], np.ndarray]]:
    def fit(train: LensData):
        lens = train_lens(train, cfg)
        return lambda x: np.asarray(ops.energy(x, lens))
    return fit


def fit_metric(rank: int, cfg: TrainConfig, lam: float = 1.0) -> Callable[[LensData], Callable[[np.ndarray], np.ndarray]]:
    """C(x) + lam * ||L (x - m)||^2 / rank, L (rank x D) and m learned jointly with the MLP under the
    same ranking loss: the 'geometric' term a G(x) metric would add to the energy."""
    def fit(train: LensData):
        import torch

        from atlas_kernel.lens.model import Lens
        from atlas_kernel.lens.train import preference_pairs

        torch.manual_seed(cfg.seed)
        mu = train.X.mean(0)
        sd = train.X.std(0) + 1e-4
        X = torch.from_numpy((train.X - mu) / sd)
        net = Lens.init(train.dim, seed=cfg.seed, hidden=cfg.hidden).to_torch()
        L = torch.nn.Parameter(torch.randn(rank, train.dim) * 0.01)
        m = torch.nn.Parameter(torch.zeros(train.dim))
        pos, neg = (torch.from_numpy(a) for a in preference_pairs(train.y, train.group))
        opt = torch.optim.AdamW(list(net.parameters()) + [L, m], lr=cfg.lr, weight_decay=cfg.weight_decay)

        def energy(x):
            return net(x).reshape(-1) + lam * ((x - m) @ L.T).pow(2).sum(1) / rank

        for _ in range(cfg.epochs):
            opt.zero_grad()
            e = energy(X)
            loss = torch.relu(cfg.margin - (e[neg] - e[pos])).mean()
            loss.backward()
            opt.step()

        def score(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return energy(torch.from_numpy((x - mu) / sd)).numpy()
        return score
    return fit


def mean_over_seeds(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Each statistic averaged over the fold seeds that have it (None where none has)."""
    return {k: float(np.mean([p[k] for p in per_seed if p[k] is not None])) if any(p[k] is not None for p in per_seed)
            else None for k in per_seed[0]}


def public_pass(data: LensData) -> np.ndarray:
    """Per row: did the candidate pass all of its problem's public examples (what a run may see)."""
    return np.array([bool(r["public_total"]) and r["public_passed"] == r["public_total"] for r in data.meta["rows"]], np.int8)


def online_section(data: LensData, ties: np.ndarray, base: TrainConfig, folds: int, seeds: int) -> dict[str, Any]:
    """Online recalibration (OnlineLens) streamed over each fold's held-out problems, against the
    static Lens on the same folds. Labels for the updates: public-example outcomes (honest), or
    hidden-test outcomes of earlier problems (explicit opt-in; NOT an honest score)."""
    from atlas_kernel.lens.model import Lens

    pub = public_pass(data)
    trained: dict[str, Any] = {}  # one training per fold, shared by every source / lr combination

    def fold_lens(train: LensData):
        key = train.sha256()
        if key not in trained:
            trained[key] = train_lens(train, base)
        return trained[key].copy()

    starts = {"trained": fold_lens,
              "untrained": lambda train: Lens.init(train.dim, seed=base.seed, hidden=base.hidden, model_id=train.model_id)}
    out: dict[str, Any] = {"public_label_agrees_with_hidden": float((pub == data.y).mean()),
                           "lrs": [3e-4, 3e-3], "steps": 5}
    for start_name, start in starts.items():
        for src, labels in (("public", pub), ("hidden_earlier_problems", data.y)):
            for lr in out["lrs"]:
                per_seed = [report(streamed_energies(data, start, labels, folds, seed, lr=lr, steps=5,
                                                     source="public" if src == "public" else "hidden"), data, ties)
                            for seed in range(seeds)]
                name = f"online_{start_name}_{src}_lr{lr:g}"
                out[name] = mean_over_seeds(per_seed)
                out[name]["honest"] = src == "public"
                print(f"{name}: auc {out[name]['auc']:.3f}, lowest passes {out[name]['lowest_energy_passes']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3, help="fold assignments averaged over this many seeds")
    ap.add_argument("--ship", action="store_true")
    ap.add_argument("--no-online", action="store_true", help="skip the online-recalibration section")
    ap.add_argument("--data", type=Path, default=None, help="the LensData file (default: results/lens/<model>.npz; "
                    "gen_lens_data.py --from-run writes results/lens/<model>_from_<run>.npz)")
    args = ap.parse_args()
    data_path = args.data or ROOT / "benchmark" / "results" / "lens" / f"{args.model}.npz"
    data = LensData.load(data_path)
    ties = tie_mask(data)
    base = TrainConfig()
    scorers: dict[str, Callable[[LensData], Callable[[np.ndarray], np.ndarray]]] = {
        "lens_512x128": fit_lens(base),
        "lens_64x16": fit_lens(replace(base, hidden=(64, 16))),
        "lens_512x128_no_bce": fit_lens(replace(base, bce_weight=0.0)),
        "lens_plus_metric_r8": fit_metric(8, replace(base, hidden=(64, 16))),
    }
    res: dict[str, Any] = {"model": args.model, "n": len(data), "n_pass": int(data.y.sum()),
                           "n_problems": len(data.problems), "mixed_problems": len(data.mixed_groups()),
                           "tie_rows": int(ties.sum()), "folds": args.folds, "seeds": args.seeds,
                           "data": str(data_path), "data_source": data.meta.get("source"),
                           "data_sha256": data.sha256(), "scorers": {}}
    lp = logprob_energy(data)
    res["scorers"]["neg_mean_logprob"] = report(lp, data, ties)
    for name, fit in scorers.items():
        per_seed = [report(out_of_fold_energies(data, fit, args.folds, seed), data, ties) for seed in range(args.seeds)]
        agg = mean_over_seeds(per_seed)
        agg["auc_per_seed"] = [p["auc"] for p in per_seed]
        res["scorers"][name] = agg
        print(f"{name}: {json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in agg.items()})}", flush=True)
    print(f"neg_mean_logprob: {json.dumps(res['scorers']['neg_mean_logprob'])}")
    if not args.no_online:
        res["online"] = online_section(data, ties, base, args.folds, args.seeds)
    chosen = res["scorers"]["lens_512x128"]
    lpr = res["scorers"]["neg_mean_logprob"]
    helps = (chosen["tie_lowest_energy_passes"] or 0) > max(chosen["tie_random_pick_passes"] or 0,
                                                            lpr["tie_lowest_energy_passes"] or 0)
    res["lens_helps_selection"] = bool(helps)
    if args.ship:
        if helps:
            lens = train_lens(data, base)
            path = lens.save(ROOT / "atlas_kernel" / "data" / "lenses" / f"{args.model}.npz")
            res["shipped"] = str(path.relative_to(ROOT))
            print(f"shipped {path}")
        else:
            res["shipped"] = None
            print("not shipped: the Lens does not beat random and log-probability on tied candidates")
    suffix = "" if args.data is None else "_" + data_path.stem.removeprefix(args.model).lstrip("_")
    out = ROOT / "benchmark" / "results" / f"lens_{args.model}{suffix}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
