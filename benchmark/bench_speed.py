"""Speed of the llama.cpp backend's speculative decoding and shared prompt prefixes.

    python benchmark/bench_speed.py            # full run (minutes; run it on a quiet machine)
    python benchmark/bench_speed.py --quick    # smoke run with SmolLM2 (well under a minute)

Sections (each ratio is against a baseline measured in the same run, medians of --repeats):
* shape:   one llama_decode of 1/2/4/8 tokens after a real prompt (what verifying a draft or a
           batch step costs) against our greedy loop's time per token, with and without log-probs.
* candidates: the probe's single-shot request on every fourth HumanEval task (greedy, log-probs,
           the pipeline's own prompt and budget), prompt lookup vs plain, as in repair below.
* repair:  repair-phase-like generation (PR-CoT prompt shape of pipeline/repair.py: the task, a
           HumanEval canonical solution with one injected bug, a failure note, a perspective),
           greedy, prompt lookup vs plain: decode tokens/s, acceptance, whether texts are equal.
* draft:   draft-model speculation (default 0.5B drafting for 1.5B) vs the target alone.
Each drafted comparison runs three ways: plain, every drafted token sent, and the draft policy
(--policy; by default the model's own: on CPU "profile", a step carries only the drafts that pay at
fixed relative CPU step costs; "measured": at the step costs measured so far in the run;
atlas_kernel/models/step_cost.py).
* prefix:  k different prompts sharing the task text, one batch (shared prefix evaluated once)
           vs one prompt at a time (each prefilled in full): prompt tokens evaluated and wall time.
Greedy texts are compared from the same cache state; llama.cpp's float rounding depends on the
shape of a decode, so a near-tie can flip (the JSON counts equal texts instead of stopping).
Writes benchmark/results/speed_cpu.json (or --out) with model names, sha256, git commit, command.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
from provenance import provenance
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from atlas_kernel.models.base import Sampling  # noqa: E402
from atlas_kernel.models.bundled import known_sha256  # noqa: E402

# one bug per program: the first of these that occurs is applied once
MUTATIONS = [("<=", "<"), (">=", ">"), (" < ", " <= "), (" > ", " >= "), ("+ 1", "- 1"), ("==", "!="),
             (" - ", " + "), ("True", "False"), ("[1:]", "[2:]"), ("0", "1")]


def repair_prompts(n: int) -> list[list[dict[str, str]]]:
    """PR-CoT repair prompts (pipeline/phases/repair.py's own) for the first n HumanEval tasks that a mutation changes."""
    from atlas_kernel.pipeline.phases.repair import PERSPECTIVES, repair_prompt
    from atlas_kernel.problems import load_suite
    from atlas_kernel.problems.humaneval import humaneval_data_path

    raw = {r["task_id"]: r for r in map(json.loads, gzip.open(humaneval_data_path(), "rt"))}
    out = []
    for task in load_suite("humaneval"):
        r = raw[task.id]
        code = r["canonical_solution"]
        bad = next((code.replace(a, b, 1) for a, b in MUTATIONS if a in code), None)
        if bad is None:
            continue
        out.append(repair_prompt(task.problem, r["prompt"] + bad, "It fails one of the examples.", PERSPECTIVES["logic"]))
        if len(out) == n:
            break
    return out


def candidate_requests(n: int) -> list[tuple[Any, Sampling]]:
    """The single-shot (probe) request of the first n tasks of every fourth HumanEval task: the
    default model copies the task's signature and docstring into its answer, the long runs that
    prompt lookup can draft."""
    from atlas_kernel.pipeline.config import PipelineConfig
    from atlas_kernel.pipeline.phases.probe import single_shot_request
    from atlas_kernel.problems import load_suite

    cfg = PipelineConfig.for_condition("A")
    reqs = [single_shot_request(t.problem, "chat", cfg) for t in load_suite("humaneval")[::4][:n]]
    return [(r.prompt, r.sampling) for r in reqs]


def _decode_rate(cs) -> float:
    toks = sum(c.completion_tokens for c in cs)
    return toks / max(1e-9, cs[0].decode_s)


def compare(model, prompts, base: Sampling, fast: Sampling, repeats: int) -> dict[str, Any]:
    """Per prompt: warm its cache, then alternate plain runs, drafted runs sending every drafted
    token, and drafted runs under the model's draft policy (by default each step sends what pays
    at fixed relative CPU step costs, step_cost.py); medians of decode tokens/s."""
    policy = model.draft_policy
    rows = []
    for p in prompts:
        model.generate(p, Sampling(max_tokens=1))
        plain_r, fast_r, adapt_r = [], [], []
        for r in range(repeats):
            a = model.generate(p, base)
            # alternate which drafted run comes first: the earlier one trains the mode's acceptance record
            runs = {}
            for which in dict.fromkeys(("all", policy) if r % 2 == 0 else (policy, "all")):
                model.draft_policy = which
                runs[which] = model.generate(p, fast)
            model.draft_policy = policy
            b, c = runs["all"], runs[policy]
            plain_r.append(a.decode_tokens_per_s)
            fast_r.append(b.decode_tokens_per_s)
            adapt_r.append(c.decode_tokens_per_s)
        rows.append({"prompt_tokens": a.prompt_tokens, "tokens": [a.completion_tokens, b.completion_tokens],
                     "same_text": a.text == b.text, "plain_tok_s": statistics.median(plain_r),
                     "fast_tok_s": statistics.median(fast_r), "drafted": b.drafted_tokens, "accepted": b.accepted_tokens,
                     "steps": [a.meta["decode_steps"], b.meta["decode_steps"]],
                     "policy_tok_s": statistics.median(adapt_r), "policy_same_text": a.text == c.text,
                     "policy_drafted": c.drafted_tokens, "policy_accepted": c.accepted_tokens,
                     "policy_steps": c.meta["decode_steps"]})
    ratios = [r["fast_tok_s"] / r["plain_tok_s"] for r in rows if r["plain_tok_s"] > 0]
    by_policy = [r["policy_tok_s"] / r["plain_tok_s"] for r in rows if r["plain_tok_s"] > 0]
    drafted = sum(r["drafted"] for r in rows)
    return {"prompts": rows, "median_speedup": statistics.median(ratios) if ratios else None,
            "policy_median_speedup": statistics.median(by_policy) if by_policy else None,
            "acceptance_rate": sum(r["accepted"] for r in rows) / drafted if drafted else None,
            "same_text": sum(r["same_text"] for r in rows), "policy_same_text": sum(r["policy_same_text"] for r in rows),
            "n": len(rows), "plain": vars_of(base), "fast": vars_of(fast), "policy": policy,
            "step_costs": model.info()["drafting"]["step_costs"]}


def summary_line(label: str, c: dict[str, Any]) -> str:
    """One printed line of a compare() result."""
    return (f"{label} {c['median_speedup']:.2f}x decode tok/s (policy {c['policy_median_speedup']:.2f}x), "
            f"acceptance {c['acceptance_rate'] or 0:.0%}, equal texts {c['same_text']}/{c['n']} (policy {c['policy_same_text']})")


def vars_of(s: Sampling) -> dict[str, Any]:
    return {k: getattr(s, k) for k in ("temperature", "max_tokens", "draft", "draft_max", "draft_ngram")}


def bench_prefix(model, prompts, k: int, max_tokens: int, repeats: int) -> dict[str, Any]:
    """k prompts that share the task text and differ in their last paragraph (the repair perspectives)."""
    from atlas_kernel.pipeline.phases.repair import PERSPECTIVES

    base = prompts[0][0]["content"]
    hint = PERSPECTIVES["logic"]
    variants = [[{"role": "user", "content": base.replace(hint, h)}] for h in list(PERSPECTIVES.values())[:k]]
    s = Sampling(max_tokens=max_tokens, draft="none")
    batch_t, single_t, batch_eval, single_eval = [], [], 0, 0
    for _ in range(repeats):
        model.generate("unrelated", Sampling(max_tokens=1))  # nothing of the prompts cached
        t0 = time.perf_counter()
        out = model.generate_batch(variants, [s] * len(variants))
        batch_t.append(time.perf_counter() - t0)
        batch_eval = out[0].meta["prefill_tokens"]
        t0 = time.perf_counter()
        single_eval = 0
        for v in variants:
            model.generate("unrelated", Sampling(max_tokens=1))
            single_eval += model.generate(v, s).prompt_tokens_evaluated
        single_t.append(time.perf_counter() - t0)
    return {"k": len(variants), "prompt_tokens": [c.prompt_tokens for c in out], "shared_prefix": out[1].cached_prompt_tokens,
            "evaluated_batch": batch_eval, "evaluated_one_by_one": single_eval,
            "batch_s": statistics.median(batch_t), "one_by_one_s": statistics.median(single_t),
            "speedup": statistics.median(single_t) / statistics.median(batch_t)}


def bench_shape(model, prompt, repeats: int, tokens: int) -> dict[str, Any]:
    """What one llama_decode costs for 1, 2, 4, 8 tokens of one sequence after a real prompt (the
    price of verifying a draft, or of decoding that many sequences together), against our whole
    greedy loop per generated token, with and without per-token log-probabilities."""
    lc = model._lc
    text, _ = model.render(prompt)
    toks = model.tokenize(text)
    ctx = model._batch_context(1, model.n_ctx)
    lc.llama_memory_seq_rm(ctx.memory, -1, -1, -1)
    model._bctx_prefix = []
    model._prefill_many(ctx, [(0, toks, 0)], None)
    pos = len(toks)
    shape: dict[str, float] = {}
    for n in (1, 2, 4, 8):
        times = []
        for _ in range(repeats * 5):
            b = model._bbatch.batch
            b.n_tokens = n
            for i in range(n):
                b.token[i] = toks[(pos + i) % len(toks)]
                b.pos[i] = pos + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = True
            t = time.perf_counter()
            model._decode(ctx, model._bbatch)
            times.append(time.perf_counter() - t)
            lc.llama_memory_seq_rm(ctx.memory, 0, pos, -1)
        shape[str(n)] = statistics.median(times) * 1e3
    lc.llama_memory_seq_rm(ctx.memory, -1, -1, -1)
    model._bctx_prefix = []
    loop: dict[str, float] = {}
    for name, s in (("greedy", Sampling(max_tokens=tokens, draft="none")),
                    ("greedy_logprobs", Sampling(max_tokens=tokens, logprobs=True, draft="none")),
                    ("sampled_top_p", Sampling(max_tokens=tokens, temperature=0.3, top_p=0.95, seed=1))):
        per = []
        for _ in range(repeats):
            c = model.generate(prompt, s)
            per.append(c.decode_s / max(1, c.completion_tokens - 1) * 1e3)
        loop[name] = statistics.median(per)
    return {"prompt_tokens": pos, "decode_ms_by_tokens": shape, "loop_ms_per_token": loop,
            "verify_4_vs_1": shape["4"] / shape["1"], "loop_overhead_ms": loop["greedy"] - shape["1"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: SmolLM2, two prompts, few tokens")
    ap.add_argument("--only", default="shape,candidates,repair,draft,prefix", help="comma-separated sections")
    ap.add_argument("--model", default="qwen-coder-0.5b", help="model of the repair and prefix sections (name or .gguf)")
    ap.add_argument("--target", default="qwen-coder-1.5b", help="draft section: target model")
    ap.add_argument("--draft", default="qwen-coder-0.5b", help="draft section: draft model")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--draft-max", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--policy", default=None, choices=["all", "profile", "measured"],
                    help="the draft policy compared with plain decoding and with sending every draft "
                         "(default: the model's own, profile on CPU, all with GPU offload)")
    ap.add_argument("--gpu", action="store_true", help="offload every layer (needs a CUDA build of llama-cpp-python)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmark" / "results" / "speed_cpu.json")
    args = ap.parse_args()
    from atlas_kernel.models.bundled import smollm2_path
    from atlas_kernel.models.llama_cpp_backend import LlamaCppModel
    from atlas_kernel.models.registry import resolve

    if args.quick:
        args.model = args.target = args.draft = str(smollm2_path())
        args.prompts, args.tokens, args.repeats = 1, 24, 1
    sections = set(args.only.split(","))
    # a bundled model's name or a GGUF path; the draft pair only when its section runs (it need not be installed)
    args.model = resolve(args.model)[1]
    if "draft" in sections:
        args.target, args.draft = (resolve(x)[1] for x in (args.target, args.draft))
    kw: dict[str, Any] = {"n_threads": args.threads, "n_gpu_layers": -1 if args.gpu else None,
                          "draft_policy": args.policy}  # None: the model's default
    prompts = repair_prompts(args.prompts)
    res: dict[str, Any] = {**provenance(),
                           "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.platform(),
                           "cpus": os.cpu_count(), "loadavg": os.getloadavg(), "quick": args.quick}
    base = Sampling(max_tokens=args.tokens, draft="none")
    if sections & {"shape", "candidates", "repair", "prefix"}:
        m = LlamaCppModel(args.model, **kw)
        res["model"] = {"path": args.model, "sha256": known_sha256(Path(args.model)), **m.info()}
        if "shape" in sections:
            res["shape"] = sh = bench_shape(m, prompts[0], args.repeats, min(128, args.tokens))
            print("shape: one decode of 1/2/4/8 tokens " + " / ".join(f"{v:.1f}" for v in sh["decode_ms_by_tokens"].values())
                  + " ms; our loop per token " + ", ".join(f"{k} {v:.1f} ms" for k, v in sh["loop_ms_per_token"].items()))
        if "candidates" in sections:
            reqs = candidate_requests(args.prompts)
            res["candidates"] = compare(m, [p for p, _ in reqs], reqs[0][1].with_(draft="none"),
                                        reqs[0][1].with_(draft="prompt_lookup", draft_max=args.draft_max), args.repeats)
            print(summary_line("candidates: prompt lookup", res["candidates"]))
        if "repair" in sections:
            res["repair"] = compare(m, prompts, base, base.with_(draft="prompt_lookup", draft_max=args.draft_max),
                                    args.repeats)
            print(summary_line("repair: prompt lookup", res["repair"]))
        if "prefix" in sections:
            res["prefix"] = bench_prefix(m, prompts, 2 if args.quick else 4, min(32, args.tokens), args.repeats)
            p = res["prefix"]
            print(f"prefix: {p['evaluated_batch']} vs {p['evaluated_one_by_one']} prompt tokens evaluated, "
                  f"{p['speedup']:.2f}x wall time")
        m.close()
    if "draft" in sections:
        t = LlamaCppModel(args.target, draft_model=args.draft, **kw)
        res["draft_models"] = {"target": {"path": args.target, "sha256": known_sha256(Path(args.target))},
                               "draft": {"path": args.draft, "sha256": known_sha256(Path(args.draft))}}
        res["draft"] = compare(t, prompts, base, base.with_(draft="draft_model", draft_max=min(args.draft_max, 5)),
                               args.repeats)
        print(summary_line("draft model:", res["draft"]))
        t.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
