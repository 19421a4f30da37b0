"""Model speed: generation and embedding tokens/s of the bundled models, raw llama-cpp-python vs
our `Model`, and k candidates decoded together in one batch vs k sequential generations.

    .venv/bin/python benchmark/bench_models.py [--models qwen-coder-0.5b,qwen-coder-1.5b,smollm2,gemma] [--tokens 128] [--repeats 3]

Writes benchmark/results/models.json. Every ratio compares two measurements of the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path


from atlas_kernel.models.base import Sampling
from atlas_kernel.models.llama_cpp_backend import quiet_stderr
from atlas_kernel.models.registry import load_model, resolve

PROMPT = ('def fizzbuzz(n: int) -> list[str]:\n    """Return the FizzBuzz sequence from 1 to n: multiples of 3 are '
          '"Fizz", multiples of 5 "Buzz", of both "FizzBuzz", other numbers as strings.\n    """\n')
EMBED_TEXTS = [PROMPT * 2, "def add(a, b):\n    return a + b\n" * 8, "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n" * 6]


def _median_rate(fn, repeats: int) -> tuple[float, list[float]]:
    rates = [fn() for _ in range(repeats)]
    return statistics.median(rates), rates


def bench_model(name: str, tokens: int, repeats: int, ks: list[int]) -> dict:
    import llama_cpp

    _, path = resolve(name)
    threads = os.cpu_count() or 1
    with quiet_stderr():
        raw = llama_cpp.Llama(path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    ours = load_model(name)
    out: dict = {"model": name, "path": path, "threads": threads, "max_tokens": tokens}

    # 1. single-sequence generation, sampled at T=0.8 with min length forced by ignoring EOS is not
    #    available in both APIs, so both generate greedily from the same raw prompt: identical tokens.
    def raw_gen() -> float:
        raw.reset()  # no prefix reuse for either side
        t0 = time.perf_counter()
        r = raw.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, top_k=0, min_p=0.0, repeat_penalty=1.0)
        return r["usage"]["completion_tokens"] / (time.perf_counter() - t0)

    def ours_gen() -> float:
        ours._bctx_prefix = []  # same: evaluate the prompt again
        c = ours.generate(PROMPT, Sampling(max_tokens=tokens))
        return c.completion_tokens / c.elapsed_s

    raw_gen(), ours_gen()  # warm-up
    r_raw, all_raw = _median_rate(raw_gen, repeats)
    r_ours, all_ours = _median_rate(ours_gen, repeats)
    out["generate"] = {"raw_llama_cpp_tok_s": r_raw, "atlas_model_tok_s": r_ours, "atlas_over_raw": r_ours / r_raw,
                       "overhead_pct": 100 * (1 - r_ours / r_raw), "samples_raw": all_raw, "samples_atlas": all_ours}

    # 2. embeddings (mean pooling): raw llama-cpp-python embedding context vs ours
    with quiet_stderr():
        raw_emb = llama_cpp.Llama(path, n_ctx=2048, n_batch=2048, n_ubatch=2048, n_threads=threads, embedding=True,
                                  pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, verbose=False)
    n_tok = sum(len(raw_emb.tokenize(t.encode())) for t in EMBED_TEXTS)

    def raw_embed() -> float:
        t0 = time.perf_counter()
        for t in EMBED_TEXTS:
            raw_emb.embed(t)
        return n_tok / (time.perf_counter() - t0)

    def ours_embed() -> float:
        t0 = time.perf_counter()
        ours.embed(EMBED_TEXTS)
        return n_tok / (time.perf_counter() - t0)

    raw_embed(), ours_embed()
    e_raw, _ = _median_rate(raw_embed, repeats)
    e_ours, _ = _median_rate(ours_embed, repeats)
    out["embed"] = {"tokens": n_tok, "raw_llama_cpp_tok_s": e_raw, "atlas_model_tok_s": e_ours, "atlas_over_raw": e_ours / e_raw}

    # 3. k candidates of one prompt: one batch vs k sequential generations (T=0.8, seeds 0..k-1)
    batched = {}
    for k in ks:
        samplings = [Sampling(temperature=0.8, top_p=0.95, max_tokens=tokens, seed=1000 + i) for i in range(k)]

        def seq_run() -> tuple[float, int, float]:
            t0 = time.perf_counter()
            n = 0
            prompt_evals = 0
            for s in samplings:
                ours._bctx_prefix = []  # sequential baseline without cache: each call evaluates the prompt
                c = ours.generate(PROMPT, s)
                n += c.completion_tokens
                prompt_evals += c.prompt_tokens - c.cached_prompt_tokens
            return n / (time.perf_counter() - t0), prompt_evals, time.perf_counter() - t0

        def batch_run() -> tuple[float, int, float]:
            ours._bctx_prefix = []
            t0 = time.perf_counter()
            cs = ours.generate_many(PROMPT, samplings)
            dt = time.perf_counter() - t0
            return sum(c.completion_tokens for c in cs) / dt, cs[0].meta["prefill_tokens"], dt

        seq = [seq_run() for _ in range(max(1, repeats - 1))]
        bat = [batch_run() for _ in range(max(1, repeats - 1))]
        s_rate = statistics.median(x[0] for x in seq)
        b_rate = statistics.median(x[0] for x in bat)
        batched[str(k)] = {
            "sequential_tok_s": s_rate, "batched_tok_s": b_rate, "batched_over_sequential": b_rate / s_rate,
            "prompt_tokens_evaluated_sequential": seq[0][1], "prompt_tokens_evaluated_batched": bat[0][1],
            "prefill_tokens_saved": seq[0][1] - bat[0][1],
        }
    out["k_candidates"] = batched
    with contextlib.suppress(Exception):
        raw.close()
        raw_emb.close()
        ours.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="qwen-coder-0.5b,qwen-coder-1.5b")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ks", default="1,3,8")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.json"))
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "models": []}
    for name in args.models.split(","):
        r = bench_model(name, args.tokens, args.repeats, ks)
        results["models"].append(r)
        g, e = r["generate"], r["embed"]
        print(f"{name}: generate raw {g['raw_llama_cpp_tok_s']:.1f} tok/s, ours {g['atlas_model_tok_s']:.1f} tok/s "
              f"(ours/raw {g['atlas_over_raw']:.3f}); embed raw {e['raw_llama_cpp_tok_s']:.0f} tok/s, ours "
              f"{e['atlas_model_tok_s']:.0f} tok/s (ours/raw {e['atlas_over_raw']:.3f})")
        for k, b in r["k_candidates"].items():
            print(f"  k={k}: sequential {b['sequential_tok_s']:.1f} tok/s, batched {b['batched_tok_s']:.1f} tok/s "
                  f"(x{b['batched_over_sequential']:.2f}); prompt tokens evaluated {b['prompt_tokens_evaluated_sequential']} -> "
                  f"{b['prompt_tokens_evaluated_batched']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
