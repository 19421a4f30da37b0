"""Shared by the Lens kernel tests: one table of sample inputs, checked against the float64 NumPy
reference on every backend (compiled CPU per SIMD build, real CUDA, the CUDA kernels emulated
on the CPU, and the float32 reference itself).

A backend is anything with the four operations taking and returning host NumPy arrays
(`OpsBackend` wraps `atlas_kernel.lens.ops` with a fixed backend; the emulation test wraps the
emulated kernels). `check_sample` runs every operation of one sample through it.

Tolerances (kernels are float32; the oracle is the float64 reference):
  energies, landscape, pairwise distances: rtol 1e-4, atol 1e-5
  gradients: rtol 1e-3, atol 1e-5 * max|grad|  (three chained products in float32)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from atlas_kernel.lens import Lens, reference

E_TOL = dict(rtol=1e-4, atol=1e-5)


def grad_close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def rand_lens(dim: int, hidden: tuple[int, int] = (512, 128), seed: int = 0, model_id: str | None = None) -> Lens:
    """Random weights including non-zero biases (an initialised lens has zero biases)."""
    lens = Lens.init(dim, seed=seed, hidden=hidden, model_id=model_id)
    rng = np.random.default_rng(seed + 1000)
    lens.b1 = rng.normal(0, 0.5, hidden[0])
    lens.b2 = rng.normal(0, 0.5, hidden[1])
    lens.b3 = rng.normal(0, 0.5)
    return lens


def rand_x(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@dataclass(frozen=True)
class Sample:
    """One input of every operation: a lens, a batch, and a landscape plane (S x T grid)."""

    name: str
    n: int
    dim: int
    hidden: tuple[int, int]
    grid: tuple[int, int]  # (S, T)
    seed: int

    def lens(self) -> Lens:
        return rand_lens(self.dim, self.hidden, seed=self.seed)

    def x(self) -> np.ndarray:
        x = rand_x(self.n, self.dim, seed=self.seed + 1)
        if self.n >= 3:
            x[2] = 0.0  # a zero vector: distance 1 to every other one
        return x

    def plane(self) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(self.seed + 2)
        c, a, b = (rng.standard_normal(self.dim).astype(np.float32) for _ in range(3))
        s = np.linspace(-3, 2, self.grid[0], dtype=np.float32)
        t = np.linspace(-1, 4, self.grid[1], dtype=np.float32)
        return c, a, b, s, t


# Edges every backend must get right: one row, hidden sizes of 1 and not a multiple of any tile,
# H2 > H1, more rows than the emulated CUDA row chunk (16), the embedding width of smollm2 (576),
# D = 1 and a D wider than a W1 panel.
SAMPLES = [
    Sample("one_row", 1, 5, (16, 8), (1, 1), 1),
    Sample("hidden_1x1", 31, 45, (1, 1), (4, 9), 2),
    Sample("odd_hidden", 7, 37, (17, 5), (5, 9), 3),
    Sample("rows_over_chunk", 70, 19, (65, 33), (17, 3), 4),
    Sample("h2_above_h1", 9, 45, (100, 130), (3, 17), 5),
    Sample("many_rows", 129, 77, (50, 20), (2, 2), 6),
    Sample("smollm2_width", 13, 576, (512, 128), (6, 5), 7),
    Sample("dim_1", 3, 1, (8, 4), (2, 3), 8),
    Sample("wide_input", 3, 2000, (64, 16), (2, 2), 9),
]
SAMPLE_IDS = [s.name for s in SAMPLES]


class Backend(Protocol):
    def energy(self, x: np.ndarray, lens: Lens) -> np.ndarray: ...
    def energy_grad(self, x: np.ndarray, lens: Lens) -> tuple[np.ndarray, np.ndarray]: ...
    def landscape(self, lens: Lens, c: np.ndarray, a: np.ndarray, b: np.ndarray, s: np.ndarray,
                  t: np.ndarray) -> np.ndarray: ...
    def pairwise_cosine(self, x: np.ndarray) -> np.ndarray: ...


class OpsBackend:
    """`atlas_kernel.lens.ops` with a fixed backend ("cpu", "cuda", "reference"), NumPy in and out."""

    def __init__(self, backend: str) -> None:
        from atlas_kernel.lens import ops

        self.ops, self.backend = ops, backend

    def energy(self, x: np.ndarray, lens: Lens) -> np.ndarray:
        return self.ops.energy(x, lens, backend=self.backend)

    def energy_grad(self, x: np.ndarray, lens: Lens) -> tuple[np.ndarray, np.ndarray]:
        return self.ops.energy_grad(x, lens, backend=self.backend)

    def landscape(self, lens: Lens, c: Any, a: Any, b: Any, s: Any, t: Any) -> np.ndarray:
        return self.ops.landscape(lens, c, a, b, s, t, backend=self.backend)

    def pairwise_cosine(self, x: np.ndarray) -> np.ndarray:
        return self.ops.pairwise_cosine(x, backend=self.backend)


def check_sample(backend: Backend, sample: Sample) -> None:
    """Every operation of `sample` on `backend` against the float64 reference (shapes, dtype, values)."""
    lens, x = sample.lens(), sample.x()
    n, dim = x.shape
    want_e, want_g = reference.energy_grad(x, lens, dtype=np.float64)

    e = backend.energy(x, lens)
    assert isinstance(e, np.ndarray) and e.dtype == np.float32 and e.shape == (n,)
    np.testing.assert_allclose(e, want_e, **E_TOL)

    e2, g = backend.energy_grad(x, lens)
    assert e2.shape == (n,) and g.shape == (n, dim) and g.dtype == np.float32
    np.testing.assert_allclose(e2, want_e, **E_TOL)
    grad_close(g, want_g)

    c, a, b, s, t = sample.plane()
    grid = backend.landscape(lens, c, a, b, s, t)
    assert grid.shape == sample.grid and grid.dtype == np.float32
    np.testing.assert_allclose(grid, reference.landscape_naive(lens, c, a, b, s, t, dtype=np.float64), **E_TOL)

    d = backend.pairwise_cosine(x)
    assert d.shape == (n, n)
    np.testing.assert_allclose(d, reference.pairwise_cosine(x, dtype=np.float64), **E_TOL)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert (d >= 0).all() and (d <= 2).all()
