"""Lens training data: the pipeline's own Phase 1 candidates for many problems, embedded by the
generating model and labelled offline by the hidden tests.

    .venv/bin/python benchmark/gen_lens_data.py [--model qwen-coder-0.5b] [--k 6] [--n-plans 2]
                                                [--exclude-every 4] [--limit N] [--max-minutes M]
                                                [--easy-first] [--from-run RUN_DIR]

Candidates are made exactly as the pipeline makes them (probe + PlanSearch + DivSampling, the
same prompts, temperatures and seeds; the probe's early stop is switched off so every problem
yields k + 1 candidates). Each candidate's code is embedded with `model.embed` (mean-pooled
last hidden state) and graded once with the task's hidden tests — this is training, offline;
the pipeline never sees these labels at solve time.

`--easy-first` puts first the training tasks that some bundled model solved single shot
(benchmark/results/single_shot_*.jsonl, from bench_single_shot.py): a time-capped run then
reaches the problems most likely to yield passing candidates (a tiny model's candidates for
most problems all fail, and such problems teach the ranking loss nothing). The order changes
which problems a capped run covers, not any candidate (each task's seeds are its own).

`--from-run DIR` takes the candidates an `atlas bench` run already made (its traces, e.g. arm B of the
campaign) instead of generating: only embedding and labelling run, minutes instead of hours.

`--exclude-every 4` leaves out every 4th HumanEval task (the pipeline benchmark's fixed
evaluation subset), so a Lens trained on this file is out-of-sample on that subset.
`--exclude-every 0` keeps every task (file <model>_all.npz, or <stem>_all.npz with --from-run): for cross-fitted lenses
(bench_lens.py --crossfit-every 4), where each fold's lens is trained without that fold's tasks.

Per-task rows (embeddings base64 float32) are appended to
benchmark/results/lens/<model>_rows.jsonl (resumable: finished tasks are skipped); the
LensData file (format in atlas_kernel/lens/data.py) is written to benchmark/results/lens/<model>.npz.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


from atlas_kernel.grading import grader_for
from atlas_kernel.lens.data import LensData
from atlas_kernel.models.registry import load_model, prompt_style
from atlas_kernel.pipeline.config import PipelineConfig
from atlas_kernel.pipeline.pipeline import Pipeline
from atlas_kernel.problems import load_suite

OUT = Path(__file__).parent / "results" / "lens"


def _enc(x: np.ndarray) -> str:
    return base64.b64encode(np.asarray(x, dtype=np.float32).tobytes()).decode()


def _dec(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=np.float32)


def _done(rows_path: Path) -> set[str]:
    """Tasks whose rows are already written (a rerun goes on after them)."""
    if not rows_path.exists():
        return set()
    return {json.loads(line)["task_id"] for line in rows_path.read_text().splitlines() if line.strip()}


def _row(cid: str, origin: str, code: str, passed: bool, public_passed: int, public_total: int,
         mean_logprob: float | None, tokens: int | None, emb: np.ndarray) -> dict:
    return {"id": cid, "origin": origin, "passed": bool(passed), "public_passed": public_passed,
            "public_total": public_total, "mean_logprob": mean_logprob, "tokens": tokens,
            "code_sha256": hashlib.sha256(code.encode()).hexdigest(), "emb": _enc(emb)}


def _append(fh, rec: dict) -> None:
    fh.write(json.dumps(rec) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def generate(model_name: str, tasks, cfg: PipelineConfig, rows_path: Path, max_minutes: float = 0) -> None:
    done = _done(rows_path)
    todo = [t for t in tasks if t.id not in done]
    if not todo:
        return
    model = load_model(model_name)
    pipe = Pipeline(model, cfg, style=prompt_style(model_name, model))
    t_all = time.perf_counter()
    with rows_path.open("a", encoding="utf-8") as fh:
        for i, task in enumerate(todo, 1):
            if max_minutes and time.perf_counter() - t_all > max_minutes * 60:
                print(f"stopping after {max_minutes} min with {len(todo) - i + 1} tasks left (rerun to go on)", flush=True)
                break
            t0 = time.perf_counter()
            run = pipe.start(task.problem)  # the Problem only
            for _ in run:
                pass
            cands = [c for c in run.state.candidates if c.code.strip()]
            emb = model.embed([c.code for c in cands]) if cands else np.zeros((0, 0), np.float32)
            grader = grader_for(task)
            rows = []
            for c, e in zip(cands, emb):
                rows.append(_row(c.id, c.origin, c.code, grader.grade(c.code).passed, c.public_passed, c.public_total,
                                 c.mean_logprob, c.completion_tokens, e))
            rec = {"task_id": task.id, "candidates": rows, "wall_s": time.perf_counter() - t0}
            _append(fh, rec)
            n_pass = sum(r["passed"] for r in rows)
            el = time.perf_counter() - t_all
            print(f"[{i}/{len(todo)}] {task.id}: {n_pass}/{len(rows)} pass hidden, {rec['wall_s']:.0f}s "
                  f"(eta {el / i * (len(todo) - i) / 60:.0f} min)", flush=True)


def from_run(model_name: str, run_dir: Path, tasks, rows_path: Path) -> None:
    """Rows from the candidates an `atlas bench` run already generated (the trace each of its
    result rows names): no generation, only embedding and offline labelling. A pipeline run's
    candidates are what the Lens will rank at solve time; tasks the probe ended early hold fewer."""
    from atlas_kernel.bench.rundir import RESULTS_FILE, read_results

    traces = {tid: run_dir / r["trace"] for tid, r in read_results(run_dir / RESULTS_FILE).items() if r.get("trace")}
    done = _done(rows_path)
    todo = [t for t in tasks if t.id not in done and t.id in traces]
    if not todo:
        return
    model = load_model(model_name)
    with rows_path.open("a", encoding="utf-8") as fh:
        for i, task in enumerate(todo, 1):
            seen: set[str] = set()
            cands = []
            for c in json.loads(traces[task.id].read_text())["candidates"]:
                key = " ".join(c["code"].split())
                if c["code"].strip() and key not in seen:  # identical programs are one row
                    seen.add(key)
                    cands.append(c)
            emb = model.embed([c["code"] for c in cands]) if cands else np.zeros((0, 0), np.float32)
            grader = grader_for(task)
            rows = []
            for c, e in zip(cands, emb):
                public = c.get("public") or []
                rows.append(_row(c["id"], c["origin"], c["code"], grader.grade(c["code"]).passed,
                                 sum(v["verdict"] == "passed" for v in public), len(public),
                                 c.get("mean_logprob"), c.get("completion_tokens"), e))
            _append(fh, {"task_id": task.id, "candidates": rows, "source_run": str(run_dir)})
            print(f"[{i}/{len(todo)}] {task.id}: {sum(r['passed'] for r in rows)}/{len(rows)} pass hidden", flush=True)


def build(model_name: str, rows_path: Path, cfg: PipelineConfig, task_ids: list[str], source: str | None = None) -> LensData:
    recs = {}
    for line in rows_path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            recs[r["task_id"]] = r
    problems = [t for t in task_ids if t in recs and recs[t]["candidates"]]
    X, y, group, extra = [], [], [], []
    for gi, tid in enumerate(problems):
        for c in recs[tid]["candidates"]:
            X.append(_dec(c["emb"]))
            y.append(int(c["passed"]))
            group.append(gi)
            extra.append({k: c.get(k) for k in ("id", "origin", "public_passed", "public_total", "mean_logprob", "code_sha256")})
    meta = {"source": source or (f"benchmark/gen_lens_data.py: pipeline Phase 1 candidates (probe + {cfg.n_plans} plans + "
                                 f"{cfg.k - cfg.n_plans} diverse samples, seed {cfg.seed}), labels from hidden tests (offline)"),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": extra}
    return LensData(np.stack(X), np.array(y), np.array(group), problems, model_name, meta)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-coder-0.5b")
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--n-plans", type=int, default=2)
    ap.add_argument("--exclude-every", type=int, default=4, help="leave out every N-th task (0 = keep all)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--easy-first", action="store_true", help="tasks some bundled model solved single shot go first")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop generating after this long; the npz is built "
                    "from the finished tasks and a rerun goes on where this one stopped")
    ap.add_argument("--from-run", type=Path, default=None, help="take the candidates of this atlas bench run "
                    "directory's traces (e.g. an arm of the campaign) instead of generating them")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tasks = load_suite("humaneval")
    if args.exclude_every:
        tasks = [t for i, t in enumerate(tasks) if i % args.exclude_every]
    file_order = [t.id for t in tasks]  # the npz keeps suite order whatever order generation took
    if args.easy_first:
        solved = set()
        for f in sorted((OUT.parent).glob("single_shot_*.jsonl")):
            solved |= {r["task_id"] for r in map(json.loads, f.read_text().splitlines()) if r.get("passed")}
        tasks = sorted(tasks, key=lambda t: t.id not in solved)  # stable: file order within each part
    if args.limit:
        tasks = tasks[: args.limit]
    cfg = PipelineConfig.for_condition("B", k=args.k, n_plans=args.n_plans, self_tests=False, early_stop=False,
                                       seed=args.seed, time_budget_s=1e9, token_budget=10 ** 9)
    chosen = {t.id for t in tasks}
    # the training split keeps the plain name; other splits say theirs (never overwriting it)
    split_suffix = "" if args.exclude_every == 4 else ("_all" if not args.exclude_every else f"_excl{args.exclude_every}")
    if args.from_run:
        stem = f"{args.model}_from_{args.from_run.parent.name}_{args.from_run.name}"
        rows_path = OUT / f"{stem}_rows.jsonl"  # one rows file whatever the split: a task's rows are the same
        stem += split_suffix
        from_run(args.model, args.from_run, tasks, rows_path)
        data = build(args.model, rows_path, cfg, [i for i in file_order if i in chosen],
                     source=f"benchmark/gen_lens_data.py --from-run {args.from_run}: the run's candidates (distinct "
                            "programs), labels from hidden tests (offline)")
        path = data.save(OUT / f"{stem}.npz")
    else:
        rows_path = OUT / f"{args.model}_rows.jsonl"
        generate(args.model, tasks, cfg, rows_path, args.max_minutes)
        data = build(args.model, rows_path, cfg, [i for i in file_order if i in chosen])
        path = data.save(OUT / f"{args.model}{split_suffix}.npz")
    print(f"{path}: {len(data)} candidates, {int(data.y.sum())} pass, {len(data.problems)} problems, "
          f"{len(data.mixed_groups())} mixed, dim {data.dim}, sha256 {data.sha256()[:12]}")


if __name__ == "__main__":
    main()
