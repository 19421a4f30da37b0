"""Does decoding several sequences together buy throughput in a real run? From a run directory's
traces: the model calls grouped into the batches they were decoded in, and per batch width (how many
sequences one generate_batch call decoded) the seconds spent and the generated tokens per second.

    .venv/bin/python benchmark/bench_batch_width.py benchmark/results/pipeline/qwen05_all/E

On a CPU where one decode of 2 tokens costs about 2.4x one token (bench_speed.py's shape section),
wider batches should barely beat one sequence; on a GPU they should scale. Reads traces only (no
model). Writes benchmark/results/batch_width_<run parent>_<run>.json.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from provenance import git_commit

RESULTS = Path(__file__).parent / "results"


def batches(trace: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The trace's model calls, grouped by batch: calls of one batch share their elapsed and decode
    seconds (the backend times the batch once) and follow each other in the trace."""
    calls = [e["data"] for e in trace.get("events", []) if e.get("kind") == "llm_call"]
    out: list[list[dict[str, Any]]] = []
    for c in calls:
        key = (c.get("elapsed_s"), c.get("decode_s"))
        if out and (out[-1][0].get("elapsed_s"), out[-1][0].get("decode_s")) == key and key != (None, None):
            out[-1].append(c)
        else:
            out.append([c])
    return out


def analyse(run: Path) -> dict[str, Any]:
    seconds: dict[int, float] = defaultdict(float)
    tokens: dict[int, int] = defaultdict(int)
    n_batches: dict[int, int] = defaultdict(int)
    traces = sorted((run / "traces").glob("*.json"))
    for path in traces:
        for b in batches(json.loads(path.read_text())):
            w = len(b)
            seconds[w] += float(b[0].get("elapsed_s") or 0.0)
            tokens[w] += sum(int(c.get("completion_tokens") or 0) for c in b)
            n_batches[w] += 1
    total = sum(seconds.values()) or 1.0
    rows = [{"width": w, "batches": n_batches[w], "seconds": round(seconds[w], 1), "share": round(seconds[w] / total, 3),
             "tokens": tokens[w], "tok_s": round(tokens[w] / seconds[w], 1) if seconds[w] else None}
            for w in sorted(seconds)]
    one = next((r["tok_s"] for r in rows if r["width"] == 1), None)
    for r in rows:
        r["tok_s_vs_one_sequence"] = round(r["tok_s"] / one, 2) if one and r["tok_s"] else None
    return {"run": str(run), "traces": len(traces), "by_width": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run directory (with traces/)")
    args = ap.parse_args()
    if not (args.run / "traces").is_dir():
        raise SystemExit(f"{args.run} has no traces/ directory — give an atlas bench run directory")
    res = {**analyse(args.run), "code_version": git_commit(short=True),
           "command": f"benchmark/bench_batch_width.py {args.run}"}
    for r in res["by_width"]:
        print(f"width {r['width']}: {r['batches']} batches, {r['seconds']:.0f} s ({100 * r['share']:.0f} %), "
              f"{r['tok_s']} tok/s ({r['tok_s_vs_one_sequence']}x one sequence)")
    out = RESULTS / f"batch_width_{args.run.parent.name}_{args.run.name}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
