"""Benchmark of the Lens kernels against NumPy and torch.

    python benchmark/bench_kernels.py            # full run (a few minutes on 2 cores)
    python benchmark/bench_kernels.py --quick    # short run (well under a minute)

Writes benchmark/results/kernels_cpu.json (and kernels_cuda.json when a CUDA device and
the CUDA backend are present). Sections:

* energy:    fused energy, N x D grid; ours (CPU kernel) vs the NumPy reference vs the
             same math in torch on CPU (``torch.no_grad``, ``torch.set_num_threads
             (os.cpu_count())``, module from ``Lens.to_torch()``).
* grad:      energy + input gradient; ours vs torch autograd (forward + backward).
* landscape: 512 x 512 grid at D=5120; our rank-2 kernel vs the naive "lift every
             grid point to R^D and score it with torch" (batched in chunks), plus the
             rank-2 trick written in torch and in NumPy for context.
* pairwise:  cosine distance matrix; ours vs NumPy vs torch.

Timing: per case, each method runs in blocks of consecutive repeats, three rounds in
rotating order; the median per method is reported (see time_methods). Ratios > 1
mean ours is faster. Times are wall-clock on whatever else the machine is doing: the
JSON records the load average at the start.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
from provenance import git_commit
import sys
import time
from pathlib import Path
from typing import Any, Callable


def _early_threads(argv: list[str]) -> None:
    """--threads must reach OpenBLAS before NumPy is imported."""
    for i, a in enumerate(argv):
        val = a.split("=", 1)[1] if a.startswith("--threads=") else (argv[i + 1] if a == "--threads" and i + 1 < len(argv) else None)
        if val:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATLAS_NUM_THREADS"):
                os.environ[var] = val


_early_threads(sys.argv[1:])

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

from atlas_kernel.lens import Lens, ops, reference

RESULTS = ROOT / "benchmark" / "results"


# ---------------------------------------------------------------------------- timing
def time_methods(
    methods: dict[str, Callable[[], Any]],
    budget_s: float,
    min_reps: int = 3,
    max_reps: int = 300,
    sync: Callable[[], None] | None = None,
    rounds: int = 3,
) -> dict[str, dict[str, float]]:
    """Median / min seconds per method.

    Methods run in blocks of consecutive repeats, ``rounds`` times in rotating order, each
    block after a 0.25 s pause so no other library's spinning threads remain:
    blocks share the machine's load conditions (fair ratios on a busy machine) while
    consecutive calls of one method are not disturbed by another library's spinning
    worker threads (torch's OpenMP pool, OpenBLAS, ours) still burning the cores.
    """
    names = list(methods)
    first: dict[str, float] = {}
    for n in names:  # warm-up (caches, thread pools, lazy packing) and a cost estimate
        t0 = time.perf_counter()
        methods[n]()
        if sync:
            sync()
        first[n] = time.perf_counter() - t0
        if first[n] < 0.5:  # cheap: a second warm-up call gives a better estimate
            t0 = time.perf_counter()
            methods[n]()
            if sync:
                sync()
            first[n] = time.perf_counter() - t0
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            per_block = int(min(max_reps, max(min_reps, budget_s / len(names) / max(first[n], 1e-9))))
            per_block = max(1, -(-per_block // rounds))
            # Idle first: a library's worker threads keep spinning for a while after its last call
            # (OpenBLAS ~0.1 s, OpenMP up to its block time), and a method timed right after NumPy
            # would share the cores with them. Every block starts with quiet pools.
            time.sleep(0.25)
            if first[n] < 0.05:
                methods[n]()  # one untimed call after switching: caches, our own pool's wake-up
            for _ in range(per_block):
                t0 = time.perf_counter()
                methods[n]()
                if sync:
                    sync()
                times[n].append(time.perf_counter() - t0)
    return {n: {"median_s": float(np.median(v)), "min_s": float(np.min(v)), "reps": len(v)} for n, v in times.items()}


def fmt_t(s: float) -> str:
    return f"{s * 1e6:8.1f} us" if s < 1e-3 else (f"{s * 1e3:8.2f} ms" if s < 1 else f"{s:8.3f} s ")


def random_lens(dim: int, seed: int = 0) -> Lens:
    lens = Lens.init(dim, seed=seed)
    rng = np.random.default_rng(seed + 1)
    lens.b1 = rng.normal(0, 0.1, lens.hidden[0])
    lens.b2 = rng.normal(0, 0.1, lens.hidden[1])
    return lens


# ---------------------------------------------------------------------------- CPU sections
def bench_energy(torch: Any, Ns: list[int], Ds: list[int], budget: float) -> list[dict[str, Any]]:
    rows = []
    print("\n== fused energy (CPU) ==")
    print(f"{'N':>6} {'D':>5} | {'ours':>11} {'torch':>11} {'numpy':>11} | {'torch/ours':>10} {'numpy/ours':>10}")
    for D in Ds:
        lens = random_lens(D)
        module = lens.to_torch().eval()
        for N in Ns:
            x = np.random.default_rng(N).standard_normal((N, D), dtype=np.float32)
            xt = torch.from_numpy(x)

            def run_torch() -> Any:
                with torch.no_grad():
                    return module(xt)

            res = time_methods(
                {
                    "ours": lambda: ops.energy(x, lens, backend="cpu"),
                    "torch": run_torch,
                    "numpy": lambda: reference.energy(x, lens),
                },
                budget,
            )
            err = float(np.abs(ops.energy(x, lens) - run_torch().numpy()).max())
            row = {
                "N": N, "D": D, **{f"{k}_s": v["median_s"] for k, v in res.items()},
                "reps": res["ours"]["reps"],
                "torch_over_ours": res["torch"]["median_s"] / res["ours"]["median_s"],
                "numpy_over_ours": res["numpy"]["median_s"] / res["ours"]["median_s"],
                "max_abs_diff_vs_torch": err,
            }
            rows.append(row)
            print(
                f"{N:>6} {D:>5} | {fmt_t(row['ours_s'])} {fmt_t(row['torch_s'])} {fmt_t(row['numpy_s'])} | "
                f"{row['torch_over_ours']:>9.2f}x {row['numpy_over_ours']:>9.2f}x"
            )
            del x, xt
    return rows


def bench_grad(torch: Any, Ns: list[int], Ds: list[int], budget: float) -> list[dict[str, Any]]:
    rows = []
    print("\n== energy + gradient (CPU): ours vs torch autograd ==")
    print(f"{'N':>6} {'D':>5} | {'ours':>11} {'torch':>11} {'numpy':>11} | {'torch/ours':>10}")
    for D in Ds:
        lens = random_lens(D, seed=1)
        module = lens.to_torch()
        for N in Ns:
            x = np.random.default_rng(N).standard_normal((N, D), dtype=np.float32)

            def run_torch() -> Any:
                xt = torch.from_numpy(x).requires_grad_(True)
                module(xt).sum().backward()  # rows are independent: sum gives per-row grads
                return xt.grad

            res = time_methods(
                {
                    "ours": lambda: ops.energy_grad(x, lens, backend="cpu"),
                    "torch": run_torch,
                    "numpy": lambda: reference.energy_grad(x, lens),
                },
                budget,
            )
            g = ops.energy_grad(x, lens)[1]
            gt = run_torch().numpy()
            row = {
                "N": N, "D": D, **{f"{k}_s": v["median_s"] for k, v in res.items()},
                "reps": res["ours"]["reps"],
                "torch_over_ours": res["torch"]["median_s"] / res["ours"]["median_s"],
                "numpy_over_ours": res["numpy"]["median_s"] / res["ours"]["median_s"],
                "max_rel_diff_vs_torch": float(np.abs(g - gt).max() / max(np.abs(gt).max(), 1e-30)),
            }
            rows.append(row)
            print(
                f"{N:>6} {D:>5} | {fmt_t(row['ours_s'])} {fmt_t(row['torch_s'])} {fmt_t(row['numpy_s'])} | "
                f"{row['torch_over_ours']:>9.2f}x"
            )
    return rows


def torch_landscape_naive(torch: Any, module: Any, c: Any, a: Any, b: Any, s: Any, t: Any, chunk_rows: int) -> Any:
    """Lift every grid point to R^D (in chunks of grid rows) and score with torch."""
    out = torch.empty(s.numel(), t.numel())
    with torch.no_grad():
        for i in range(0, s.numel(), chunk_rows):
            si = s[i : i + chunk_rows]
            X = c + si[:, None, None] * a + t[None, :, None] * b  # (rows, T, D)
            out[i : i + chunk_rows] = module(X)
    return out


def torch_landscape_rank2(torch: Any, module: Any, c: Any, a: Any, b: Any, s: Any, t: Any, chunk_rows: int) -> Any:
    """The same rank-2 lift as our kernel, written in torch."""
    F = torch.nn.functional
    with torch.no_grad():
        W1 = module.fc1.weight
        u = W1 @ c + module.fc1.bias
        p, q = W1 @ a, W1 @ b
        out = torch.empty(s.numel(), t.numel())
        for i in range(0, s.numel(), chunk_rows):
            si = s[i : i + chunk_rows]
            h = F.silu(u + si[:, None, None] * p + t[None, :, None] * q)
            out[i : i + chunk_rows] = F.softplus(module.fc3(F.silu(module.fc2(h)))).squeeze(-1)
    return out


def bench_landscape(torch: Any, S: int, T: int, D: int, naive_rows: int | None, budget: float) -> dict[str, Any]:
    print(f"\n== landscape {S}x{T} at D={D} (CPU) ==")
    lens = random_lens(D, seed=2)
    module = lens.to_torch().eval()
    rng = np.random.default_rng(0)
    c, a, b = (rng.standard_normal(D, dtype=np.float32) for _ in range(3))
    a /= np.linalg.norm(a)
    b /= np.linalg.norm(b)
    s = np.linspace(-3, 3, S, dtype=np.float32)
    t = np.linspace(-3, 3, T, dtype=np.float32)
    ct, at, bt, st, tt = (torch.from_numpy(v) for v in (c, a, b, s, t))
    res = time_methods(
        {
            "ours": lambda: ops.landscape(lens, c, a, b, s, t, backend="cpu"),
            "torch_rank2": lambda: torch_landscape_rank2(torch, module, ct, at, bt, st, tt, 32),
            "numpy_rank2": lambda: reference.landscape(lens, c, a, b, s, t),
        },
        budget,
        min_reps=3,
    )
    ours = ops.landscape(lens, c, a, b, s, t)
    # Naive: one timed pass (it is slow); on a row subset when asked, scaled linearly.
    rows = S if naive_rows is None else min(S, naive_rows)
    chunk = max(1, int(256e6 // (T * D * 4)))  # ~256 MB of lifted points per chunk
    torch_landscape_naive(torch, module, ct, at, bt, st[:1], tt, chunk)  # warm-up
    t0 = time.perf_counter()
    naive = torch_landscape_naive(torch, module, ct, at, bt, st[:rows], tt, chunk)
    naive_s = (time.perf_counter() - t0) * S / rows
    err = float(np.abs(ours[:rows] - naive.numpy()).max())
    # Literal reading of "lift each grid point and score it": one torch call per point,
    # timed on a subset of points and scaled to the full grid.
    npts = 256 if naive_rows is not None else 2048
    idx = np.random.default_rng(1).integers(0, S * T, npts)
    with torch.no_grad():
        module((ct + st[0] * at + tt[0] * bt)[None])  # warm-up
        t0 = time.perf_counter()
        for g in idx:
            module((ct + st[g // T] * at + tt[g % T] * bt)[None])
        per_point_s = (time.perf_counter() - t0) * (S * T) / npts
    row = {
        "S": S, "T": T, "D": D,
        "ours_s": res["ours"]["median_s"],
        "torch_rank2_s": res["torch_rank2"]["median_s"],
        "numpy_rank2_s": res["numpy_rank2"]["median_s"],
        "torch_naive_s": naive_s,
        "torch_naive_rows_timed": rows,
        "torch_naive_extrapolated": rows < S,
        "naive_over_ours": naive_s / res["ours"]["median_s"],
        "torch_per_point_s": per_point_s,
        "torch_per_point_points_timed": npts,
        "per_point_over_ours": per_point_s / res["ours"]["median_s"],
        "flop_ratio_naive_over_rank2": (D * lens.hidden[0] + lens.hidden[0] * lens.hidden[1]) / (lens.hidden[0] * lens.hidden[1]),
        "torch_rank2_over_ours": res["torch_rank2"]["median_s"] / res["ours"]["median_s"],
        "numpy_rank2_over_ours": res["numpy_rank2"]["median_s"] / res["ours"]["median_s"],
        "max_abs_diff_vs_naive": err,
        "reps": res["ours"]["reps"],
    }
    print(f"ours (rank-2 kernel) {fmt_t(row['ours_s'])}")
    print(f"torch naive lift     {fmt_t(naive_s)}  -> {row['naive_over_ours']:.1f}x" + (f"  (timed {rows} of {S} rows, scaled)" if rows < S else ""))
    print(f"torch per-point lift {fmt_t(per_point_s)}  -> {row['per_point_over_ours']:.1f}x  (timed {npts} points, scaled)")
    print(f"  (multiply-add ratio naive/rank-2 at this D: {row['flop_ratio_naive_over_rank2']:.1f}x)")
    print(f"torch rank-2         {fmt_t(row['torch_rank2_s'])}  -> {row['torch_rank2_over_ours']:.2f}x")
    print(f"numpy rank-2         {fmt_t(row['numpy_rank2_s'])}  -> {row['numpy_rank2_over_ours']:.2f}x")
    return row


def bench_pairwise(torch: Any, Ns: list[int], D: int, budget: float) -> list[dict[str, Any]]:
    rows = []
    print(f"\n== pairwise cosine, D={D} (CPU) ==")
    F = torch.nn.functional
    for N in Ns:
        x = np.random.default_rng(N).standard_normal((N, D), dtype=np.float32)
        xt = torch.from_numpy(x)

        def run_torch() -> Any:
            xn = F.normalize(xt, dim=1)
            return (1 - xn @ xn.T).clamp_(0, 2).fill_diagonal_(0)

        res = time_methods(
            {"ours": lambda: ops.pairwise_cosine(x, backend="cpu"), "torch": run_torch, "numpy": lambda: reference.pairwise_cosine(x)},
            budget,
        )
        row = {
            "N": N, "D": D, **{f"{k}_s": v["median_s"] for k, v in res.items()},
            "torch_over_ours": res["torch"]["median_s"] / res["ours"]["median_s"],
            "numpy_over_ours": res["numpy"]["median_s"] / res["ours"]["median_s"],
        }
        rows.append(row)
        print(f"N={N:>5}: ours {fmt_t(row['ours_s'])} torch {fmt_t(row['torch_s'])} numpy {fmt_t(row['numpy_s'])} | torch/ours {row['torch_over_ours']:.2f}x")
    return rows


# ---------------------------------------------------------------------------- CUDA section
def bench_cuda(torch: Any, quick: bool, budget: float) -> dict[str, Any]:
    """Device-resident torch tensors: our CUDA kernels vs the same math in torch CUDA."""
    dev = torch.device("cuda")
    sync = torch.cuda.synchronize
    out: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "energy": [], "grad": [], "landscape": None}
    Ns = [3, 64, 4096, 65536] if not quick else [3, 4096, 65536]
    Ds = [576, 640, 4096, 5120] if not quick else [576, 5120]
    print(f"\n== CUDA ({out['device']}) ==")
    for D in Ds:
        lens = random_lens(D)
        module = lens.to_torch().to(dev).eval()
        for N in Ns:
            x = torch.randn(N, D, device=dev)

            def run_torch() -> Any:
                with torch.no_grad():
                    return module(x)

            res = time_methods({"ours": lambda: ops.energy(x, lens), "torch": run_torch}, budget, sync=sync)
            err = float((ops.energy(x, lens) - run_torch()).abs().max())
            row = {"N": N, "D": D, "ours_s": res["ours"]["median_s"], "torch_s": res["torch"]["median_s"],
                   "torch_over_ours": res["torch"]["median_s"] / res["ours"]["median_s"], "max_abs_diff": err}
            out["energy"].append(row)
            print(f"energy N={N:>6} D={D:>5}: ours {fmt_t(row['ours_s'])} torch {fmt_t(row['torch_s'])} -> {row['torch_over_ours']:.2f}x")

            def run_torch_grad() -> Any:
                xg = x.detach().requires_grad_(True)
                module(xg).sum().backward()
                return xg.grad

            if N <= 4096 or not quick:
                res = time_methods({"ours": lambda: ops.energy_grad(x, lens), "torch": run_torch_grad}, budget, sync=sync)
                row = {"N": N, "D": D, "ours_s": res["ours"]["median_s"], "torch_s": res["torch"]["median_s"],
                       "torch_over_ours": res["torch"]["median_s"] / res["ours"]["median_s"]}
                out["grad"].append(row)
                print(f"grad   N={N:>6} D={D:>5}: ours {fmt_t(row['ours_s'])} torch {fmt_t(row['torch_s'])} -> {row['torch_over_ours']:.2f}x")
    D, S, T = 5120, 512, 512
    lens = random_lens(D, seed=2)
    module = lens.to_torch().to(dev).eval()
    c, a, b = (torch.randn(D, device=dev) for _ in range(3))
    s = torch.linspace(-3, 3, S, device=dev)
    t = torch.linspace(-3, 3, T, device=dev)
    s_host, t_host = s.cpu().numpy(), t.cpu().numpy()  # coordinates live on the host
    res = time_methods(
        {
            "ours": lambda: ops.landscape(lens, c, a, b, s_host, t_host),
            "torch_naive": lambda: _cuda_naive(torch, module, c, a, b, s, t),
        },
        budget,
        sync=sync,
    )
    out["landscape"] = {"S": S, "T": T, "D": D, "ours_s": res["ours"]["median_s"], "torch_naive_s": res["torch_naive"]["median_s"],
                        "naive_over_ours": res["torch_naive"]["median_s"] / res["ours"]["median_s"]}
    print(f"landscape {S}x{T} D={D}: ours {fmt_t(out['landscape']['ours_s'])} torch naive {fmt_t(out['landscape']['torch_naive_s'])} -> {out['landscape']['naive_over_ours']:.1f}x")
    return out


def _cuda_naive(torch: Any, module: Any, c: Any, a: Any, b: Any, s: Any, t: Any) -> Any:
    out = torch.empty(s.numel(), t.numel(), device=c.device)
    with torch.no_grad():
        for i in range(0, s.numel(), 64):
            si = s[i : i + 64]
            out[i : i + 64] = module(c + si[:, None, None] * a + t[None, :, None] * b)
    return out


# ---------------------------------------------------------------------------- main
def machine_info(torch: Any) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = git_commit(short=True)
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "ours": ops.backend_info(),
        "git_commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes, shorter timing budget")
    ap.add_argument("--out", type=Path, default=RESULTS / "kernels_cpu.json")
    ap.add_argument("--no-cuda", action="store_true", help="skip the CUDA section even if available")
    ap.add_argument(
        "--threads", type=int, default=None,
        help="threads for ours, torch and BLAS alike (default: os.cpu_count() for torch, ours' default)",
    )
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    if args.threads:
        ops.set_num_threads(args.threads)
    if "cpu" not in ops.backends():
        print(f"compiled kernels missing; build first: {ops.BUILD_COMMAND}", file=sys.stderr)
        return 2
    q = args.quick
    budget = 0.3 if q else 1.0
    Ns = [3, 64, 4096] if q else [3, 64, 4096, 65536]
    Ds = [576, 5120] if q else [576, 640, 4096, 5120]
    info = machine_info(torch)
    print(f"ours: {info['ours']['cpu']} | torch {torch.__version__} ({torch.get_num_threads()} threads) | {info['cpu']}")
    t_start = time.perf_counter()
    result: dict[str, Any] = {"quick": q, "threads": args.threads or "default", "machine": info}
    result["energy"] = bench_energy(torch, Ns, Ds, budget)
    result["grad"] = bench_grad(torch, [3, 64, 4096], [576, 5120] if q else [640, 5120], budget)
    result["landscape"] = bench_landscape(torch, 512, 512, 5120, 32 if q else None, budget)
    result["pairwise"] = bench_pairwise(torch, [64, 1024], 5120, budget)
    large = [r for r in result["energy"] if r["N"] >= 4096]
    small = [r for r in result["energy"] if r["N"] <= 64]
    result["summary"] = {
        "energy_torch_over_ours_large_N_min": min(r["torch_over_ours"] for r in large),
        "energy_torch_over_ours_small_N_min": min(r["torch_over_ours"] for r in small),
        "grad_torch_over_ours_min": min(r["torch_over_ours"] for r in result["grad"]),
        "landscape_naive_over_ours": result["landscape"]["naive_over_ours"],
        "landscape_per_point_naive_over_ours": result["landscape"]["per_point_over_ours"],
        "goals": {"energy_large_N": ">= 1x torch", "energy_small_N": "clearly ahead of torch", "landscape": ">= 100x naive"},
        "wall_s": time.perf_counter() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nsummary: {json.dumps(result['summary'], indent=1)}\nwrote {args.out}")

    if not args.no_cuda and "cuda" in ops.backends() and torch.cuda.is_available():
        cuda = {"quick": q, "machine": info, **bench_cuda(torch, q, budget)}
        cuda_out = args.out.with_name("kernels_cuda.json")
        cuda_out.write_text(json.dumps(cuda, indent=2) + "\n")
        print(f"wrote {cuda_out}")
    else:
        print("CUDA section skipped: " + str(ops.backend_info()["cuda"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
