"""Wall time of a full-pipeline solve, before and after: the same tasks, seeds and model, two code
versions, run alternately in chunks so that a machine that gets busier or quieter affects both.

    .venv/bin/python benchmark/bench_pipeline_speed.py [--baseline REV] [--condition E] [--every 8]
                                                       [--chunk 5] [--threads 2] [--out FILE.json]
                                                       [--set KEY=VALUE ...]

The baseline is a git revision checked out into a temporary worktree and run with the same
virtual environment (PYTHONPATH first: its pure-Python package wins over this checkout's). Each
chunk of a side is an ordinary resumable `atlas bench` run directory (speed_*/<side>/chunkNN: a run
directory holds one task list), so an interrupted comparison goes on where it stopped (rerun the
same command). Reported: pass
count per side and per task whether the verdicts agree, mean wall / model / sandbox / other seconds
per task and per phase, tokens per task, and the after/before ratios of wall time and of tokens.
Both sides run without a Lens (ATLAS_NO_LENS=1). `--set` passes pipeline settings to the "after" side only
(`atlas bench --set`), e.g. `--set begin_code=true`; they name its run directory. Run it alone on the
machine: wall time is what it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _tasks(every: int, limit: int | None) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from atlas_kernel.problems import load_suite

    ids = [t.id for t in load_suite("humaneval")][::every]
    return ids[:limit] if limit else ids


def _run(src: Path, out: Path, tasks: list[str], args: argparse.Namespace, sets: list[str]) -> None:
    # no Lens on either side: one shipped after the baseline would change selection, not speed
    env = {**os.environ, "PYTHONPATH": str(src), "ATLAS_NO_LENS": "1"}
    cmd = [str(PY), "-c", "import sys; from atlas_kernel.cli.main import main; sys.exit(main())", "bench",
           "--suite", "humaneval", "--condition", args.condition, "--tasks", ",".join(tasks), "--out", str(out),
           "--resume", "--threads", str(args.threads), "--quiet"]
    if args.model:
        cmd += ["--model", args.model]
    for kv in sets:
        cmd += ["--set", kv]
    subprocess.run(cmd, env=env, cwd=src, check=True)


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    """The finished rows of a side, from all its chunk directories."""
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(out.glob("chunk*/results.jsonl")):
        rows.update((r["task_id"], r) for r in (json.loads(line) for line in path.read_text().splitlines() if line.strip()))
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    mean = (lambda k: statistics.fmean(r.get(k) or 0.0 for r in rows) if rows else None)
    phases: dict[str, float] = {}
    for r in rows:
        for p, s in (r.get("phase_s") or {}).items():
            phases[p] = phases.get(p, 0.0) + s / len(rows)
    return {"tasks": len(rows), "passed": sum(bool(r["passed"]) for r in rows), "wall_s": mean("wall_s"),
            "model_s": mean("model_s"), "sandbox_s": mean("sandbox_s"), "other_s": mean("other_s"),
            "tokens": mean("tokens"), "stopped_early": sum(bool(r.get("stopped_early")) for r in rows),
            "phase_s": {k: round(v, 2) for k, v in sorted(phases.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="b1f8459", help="git revision of 'before' (default: the code before the "
                    "decode-speed changes of 2026-11-29)")
    ap.add_argument("--condition", default="E")
    ap.add_argument("--every", type=int, default=8, help="every N-th HumanEval task (8: 21 tasks)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--chunk", type=int, default=5, help="tasks per alternation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=None, help="summary JSON (default "
                    "benchmark/results/speed_pipeline[_SETTINGS].json)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a pipeline setting for the 'after' side only (repeatable)")
    args = ap.parse_args()
    base_rev = _git("rev-parse", args.baseline)
    head_rev = _git("rev-parse", "HEAD")
    # a chunk directory is named by its position, so the model and the chunk size name the comparison
    tag = (f"{args.condition}_every{args.every}_{base_rev[:7]}" + (f"_{Path(args.model).stem}" if args.model else "")
           + (f"_chunk{args.chunk}" if args.chunk != 5 else "") + (f"_limit{args.limit}" if args.limit else ""))
    for kv in args.set:
        if "=" not in kv:
            raise SystemExit(f"--set takes KEY=VALUE, got {kv!r}")
    settings = "".join(f"_{kv.replace('=', '-')}" for kv in args.set)
    args.out = args.out or ROOT / "benchmark" / "results" / f"speed_pipeline{settings}.json"
    runs = {"before": ROOT / "benchmark" / "results" / "pipeline" / f"speed_{tag}_before",
            "after": ROOT / "benchmark" / "results" / "pipeline" / f"speed_{tag}_after_{head_rev[:7]}{settings}"}
    tree = Path(f"/tmp/atlas_speed_{base_rev[:12]}")
    if not tree.exists():
        _git("worktree", "add", "--detach", str(tree), base_rev)
        for ext in (ROOT / "atlas_kernel").glob("_lens_ext*.so"):  # the built extension is not in git
            (tree / "atlas_kernel" / ext.name).write_bytes(ext.read_bytes())
    tasks = _tasks(args.every, args.limit)
    t0 = time.time()
    for i in range(0, len(tasks), args.chunk):
        chunk = tasks[i: i + args.chunk]
        for side, src, sets in (("before", tree, []), ("after", ROOT, args.set)):
            if any(t not in _rows(runs[side]) for t in chunk):
                _run(src, runs[side] / f"chunk{i // args.chunk:02d}", chunk, args, sets)
        print(f"{min(i + args.chunk, len(tasks))}/{len(tasks)} tasks on both sides ({(time.time() - t0) / 60:.0f} min)",
              flush=True)
    rows = {side: _rows(d) for side, d in runs.items()}
    both = [t for t in tasks if t in rows["before"] and t in rows["after"]]
    res: dict[str, Any] = {
        "command": " ".join([sys.executable] + sys.argv), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "baseline": base_rev, "after": head_rev, "after_settings": args.set, "condition": args.condition, "tasks": both,
        "runs": {k: str(v.relative_to(ROOT)) for k, v in runs.items()},
        "before": _summary([rows["before"][t] for t in both]), "after": _summary([rows["after"][t] for t in both]),
        "same_verdict": sum(rows["before"][t]["passed"] == rows["after"][t]["passed"] for t in both),
    }
    b, a = res["before"], res["after"]
    res["wall_ratio_after_over_before"] = a["wall_s"] / b["wall_s"] if b["wall_s"] else None
    res["tokens_ratio_after_over_before"] = a["tokens"] / b["tokens"] if b["tokens"] else None
    args.out.write_text(json.dumps(res, indent=2))
    print(f"{args.condition} on {len(both)} tasks: passed {b['passed']} -> {a['passed']} ({res['same_verdict']} same verdict); "
          f"wall {b['wall_s']:.1f} -> {a['wall_s']:.1f} s/task = {res['wall_ratio_after_over_before']:.2f}x; "
          f"tokens {b['tokens']:.0f} -> {a['tokens']:.0f}; wrote {args.out}")


if __name__ == "__main__":
    main()
