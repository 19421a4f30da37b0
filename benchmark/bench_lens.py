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

Cross-fitting (`--crossfit-every N`, "crossfit" in the JSON): the suite's tasks fall into N fixed
folds by their index (fold k: index % N == k; with N = 4, fold 0 is the pipeline benchmark's
every-4th evaluation subset and the other folds its training split). Fold k's lens is trained on
the rows of the other folds only, so it may rank fold k's tasks in a benchmark of the whole suite.
`--write-crossfit DIR` saves those lenses and DIR/crossfit.json, which `atlas bench --lens` takes;
with --ship the lens shipped is fold 0's (trained on the training split only).
`--replay RUN_DIR` replays that run's selection (its traces: candidates, public and self-test
results, the default lexicographic selector) with the cross-fitted energies in place of
log-probability, and counts the picks that pass the hidden tests either way (S* is not replayed:
it needs the model).
Writes benchmark/results/lens_<model>[_<data>].json, with the command and code version.
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
from provenance import provenance

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


def suite_fold_of(data: LensData, every: int, suite: str) -> tuple[np.ndarray, list[list[str]]]:
    """Per row its fixed fold (the task's index in the suite, mod `every`), and each fold's task
    ids: every task of the suite, with rows or not (a task without rows is still ranked by its
    fold's lens in a benchmark)."""
    from atlas_kernel.problems import load_suite

    ids = [t.id for t in load_suite(suite)]
    index = {tid: i for i, tid in enumerate(ids)}
    missing = [p for p in data.problems if p not in index]
    if missing:
        raise SystemExit(f"the lens data holds tasks that are not in suite {suite!r} ({missing[:3]}) — pass --suite")
    group_fold = np.array([index[p] % every for p in data.problems])
    return group_fold[data.group], [[tid for i, tid in enumerate(ids) if i % every == k] for k in range(every)]


def crossfit_section(data: LensData, ties: np.ndarray, base: TrainConfig, every: int, suite: str,
                     write: Path | None) -> tuple[dict[str, Any], np.ndarray, list[Any]]:
    """Fold k's lens from the other folds' rows; each row's energy from its own fold's lens."""
    row_fold, fold_tasks = suite_fold_of(data, every, suite)
    energies = np.full(len(data), np.nan)
    lenses, per_fold = [], []
    for k in range(every):
        test = row_fold == k
        train = data.subset(~test)
        lens = train_lens(train, base)
        lenses.append(lens)
        if test.any():
            energies[test] = np.asarray(ops.energy(data.X[test], lens), dtype=np.float64)
        per_fold.append({"fold": k, "tasks": len(fold_tasks[k]), "rows": int(test.sum()),
                         "train_problems": len(np.unique(train.group)), "train_mixed": len(train.mixed_groups()),
                         **(report(energies[test], data.subset(test), ties[test]) if test.any() else {})})
    out = {"every": every, "suite": suite, "lens": report(energies, data, ties), "per_fold": per_fold}
    if write is not None:
        from atlas_kernel.lens.crossfit import write_manifest

        path = write_manifest(write, data.model_id, suite, list(zip(lenses, fold_tasks)), made_by=provenance(),
                              data_sha256=data.sha256(), train_config=base.__dict__)
        out["manifest"] = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        print(f"wrote {path}")
    return out, energies, lenses


def _code_key(code: str) -> str:
    return " ".join(code.split())  # gen_lens_data.py --from-run keeps one row per program modulo whitespace


def replay_section(run_dir: Path, data: LensData, energies: np.ndarray) -> dict[str, Any]:
    """The run's own selection replayed from its traces, with log-probability (what the run did)
    and with the given energies; each pick's hidden-test label comes from the lens data rows."""
    from atlas_kernel.bench.rundir import RESULTS_FILE, read_results
    from atlas_kernel.pipeline.selectors import lexicographic
    from atlas_kernel.pipeline.state import Candidate, SelfTest, SolveState

    results = read_results(run_dir / RESULTS_FILE)
    rows_of: dict[str, list[int]] = {}
    for i, g in enumerate(data.group):
        rows_of.setdefault(data.problems[int(g)], []).append(i)
    tasks: list[dict[str, Any]] = []
    for tid in data.problems:
        r = results.get(tid)
        if not r or not r.get("trace"):
            continue
        trace = json.loads((run_dir / r["trace"]).read_text())
        if (trace.get("config") or {}).get("lens") or (trace.get("config") or {}).get("repair"):
            raise SystemExit(f"{run_dir} ran with a Lens or repair: replay a run without them (e.g. arm B), whose "
                             "candidates were all there at selection and carry no energy of their own")
        cands = [Candidate.from_dict(c) for c in trace["candidates"]]
        # rows were made from the trace's distinct programs in trace order: pair them the same way
        keys = list(dict.fromkeys(_code_key(c.code) for c in cands if c.code.strip()))
        idx = rows_of.get(tid, [])
        if len(keys) != len(idx):
            raise SystemExit(f"{tid}: {len(keys)} distinct programs in the trace, {len(idx)} lens rows — "
                             "the data was not made from this run (gen_lens_data.py --from-run)")
        row = dict(zip(keys, idx))
        for c in cands:
            if c.code.strip():
                c.energy = float(energies[row[_code_key(c.code)]])
        usable = [c for c in cands if c.code.strip()]
        state = SolveState(problem=None, candidates=usable,  # type: ignore[arg-type]  (lexicographic never reads it)
                           self_tests=[SelfTest(**t) for t in trace.get("self_tests", [])])
        lens_pick = lexicographic(state)[0][0]
        energy = {c.id: c.energy for c in usable}
        for c in usable:
            c.energy = None
        lp_pick = lexicographic(state)[0][0]
        recorded = next((e["data"]["chosen"] for e in trace["events"] if e["kind"] == "selection"), None)
        if recorded is None:  # the solve ended before selection (the probe's early stop): no ranking to replay
            lens_pick = lp_pick = r["chosen"]
        top = max((c.public_passed, state.self_passed(c)) for c in usable)
        tied = [c for c in usable if (c.public_passed, state.self_passed(c)) == top and (recorded or c.id == lp_pick)]
        label = {c.id: bool(data.y[row[_code_key(c.code)]]) for c in usable}
        tasks.append({"task_id": tid, "recorded": recorded, "logprob_pick": lp_pick, "lens_pick": lens_pick,
                      "logprob_passes": label[lp_pick], "lens_passes": label[lens_pick], "run_passed": r.get("passed"),
                      "tied": len(tied), "tied_pass": sum(label[c.id] for c in tied),
                      "top2_tied": len(tied) >= 2, "lens_energy": energy[lens_pick]})
    n = len(tasks)
    changed = [t for t in tasks if t["lens_pick"] != t["logprob_pick"]]
    return {"run": str(run_dir.resolve().relative_to(ROOT) if run_dir.resolve().is_relative_to(ROOT) else run_dir),
            "tasks": n, "ended_before_selection": sum(t["recorded"] is None for t in tasks),
            "replay_matches_run": sum(t["recorded"] == t["logprob_pick"] for t in tasks if t["recorded"] is not None),
            "labels_match_run": sum(t["logprob_passes"] == t["run_passed"] for t in tasks if t["recorded"] in (None, t["logprob_pick"])),
            "logprob_picks_pass": sum(t["logprob_passes"] for t in tasks),
            "lens_picks_pass": sum(t["lens_passes"] for t in tasks),
            "random_tied_pick_passes": round(sum(t["tied_pass"] / t["tied"] for t in tasks), 2),
            "tasks_with_a_tie": sum(t["tied"] >= 2 for t in tasks),
            "mixed_ties": sum(0 < t["tied_pass"] < t["tied"] for t in tasks),
            "picks_changed": len(changed), "gained": sum(t["lens_passes"] and not t["logprob_passes"] for t in changed),
            "lost": sum(t["logprob_passes"] and not t["lens_passes"] for t in changed),
            "per_task": tasks}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3, help="fold assignments averaged over this many seeds")
    ap.add_argument("--ship", action="store_true")
    ap.add_argument("--no-online", action="store_true", help="skip the online-recalibration section")
    ap.add_argument("--data", type=Path, default=None, help="the LensData file (default: results/lens/<model>.npz; "
                    "gen_lens_data.py --from-run writes results/lens/<model>_from_<run>.npz)")
    ap.add_argument("--suite", default="humaneval", help="the suite the data's tasks come from (for --crossfit-every)")
    ap.add_argument("--crossfit-every", type=int, default=0, metavar="N",
                    help="also evaluate lenses cross-fitted over N fixed folds of the suite (task index mod N)")
    ap.add_argument("--write-crossfit", type=Path, default=None, metavar="DIR",
                    help="save the cross-fitted lenses and DIR/crossfit.json (for atlas bench --lens)")
    ap.add_argument("--replay", type=Path, default=None, metavar="RUN_DIR",
                    help="replay this run's selection with the cross-fitted energies (the run the data came from)")
    args = ap.parse_args()
    if args.crossfit_every == 1 or args.crossfit_every < 0:
        raise SystemExit("--crossfit-every needs at least 2 folds (each lens is trained without its own fold)")
    if (args.write_crossfit or args.replay) and not args.crossfit_every:
        raise SystemExit("--write-crossfit and --replay use the cross-fitted lenses: give --crossfit-every N (e.g. 4)")
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
                           "data_sha256": data.sha256(), **provenance(), "scorers": {}}
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
    fold_lenses: list[Any] = []
    if args.crossfit_every:
        res["crossfit"], cf_energies, fold_lenses = crossfit_section(data, ties, base, args.crossfit_every, args.suite,
                                                                     args.write_crossfit)
        print(f"crossfit: {json.dumps({k: v for k, v in res['crossfit']['lens'].items()})}", flush=True)
        if args.replay:
            rep = replay_section(args.replay, data, cf_energies)
            res["crossfit"]["replay"] = rep
            print("replay: " + json.dumps({k: v for k, v in rep.items() if k != "per_task"}), flush=True)
    chosen = res["scorers"]["lens_512x128"]
    lpr = res["scorers"]["neg_mean_logprob"]
    helps = (chosen["tie_lowest_energy_passes"] or 0) > max(chosen["tie_random_pick_passes"] or 0,
                                                            lpr["tie_lowest_energy_passes"] or 0)
    res["lens_helps_selection"] = bool(helps)
    if args.ship:
        if helps:
            # never a lens that saw the evaluation subset (every 4th HumanEval task): with 4 cross-fitted
            # folds that is fold 0's lens, else one trained on the data's training-split rows only
            if fold_lenses and args.crossfit_every == 4 and args.suite == "humaneval":
                lens = fold_lenses[0]
            else:
                row_fold, _ = suite_fold_of(data, 4, "humaneval")
                lens = train_lens(data.subset(row_fold != 0), base)
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
