"""Plain NumPy implementations of the Lens operations: the oracle for the kernels.

Same names and signatures as :mod:`atlas_kernel.lens.ops` (``backend`` is accepted and
ignored), plus a keyword-only ``dtype``: the default float32 is the compute type of
the kernels (this is also the fallback used when the compiled extension is missing);
``dtype=np.float64`` gives a high-precision oracle for tests. Inputs may be NumPy
arrays, lists or torch / CuPy arrays (copied to host NumPy); results are NumPy arrays
of ``dtype``.

The math is written out step by step on purpose - no fusion, no tricks beyond the
rank-2 lift of :func:`landscape` (and :func:`landscape_naive` spells out even that).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas_kernel.lens.model import Lens

__all__ = ["energy", "energy_grad", "landscape", "landscape_naive", "pairwise_cosine"]

# Rows per chunk: bounds temporaries to ~ chunk x max(D, H1) values.
_CHUNK = 8192


def to_numpy(x: Any, dtype: Any = np.float32) -> np.ndarray:
    """Host NumPy copy/view of ``x`` in ``dtype`` (torch, CuPy, lists accepted)."""
    if isinstance(x, np.ndarray):
        return np.asarray(x, dtype=dtype)
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch (any device, any float dtype)
        return np.asarray(x.detach().cpu().double().numpy(), dtype=dtype)
    if hasattr(x, "__cuda_array_interface__") and hasattr(x, "get"):  # CuPy
        return np.asarray(x.get(), dtype=dtype)
    return np.asarray(x, dtype=dtype)


def _weights(lens: Lens, dtype: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(lens.weights()[n], dtype=dtype) for n in ("W1", "b1", "W2", "b2", "w3", "b3"))


def _rows(x: Any, lens: Lens, model_id: str | None, dtype: Any) -> np.ndarray:
    X = to_numpy(x, dtype)
    lens.check_embeddings(X, model_id=model_id)
    return X.reshape(-1, lens.dim)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflow -> inf -> 0 is the right limit
        return 1.0 / (1.0 + np.exp(-z))


def _silu(z: np.ndarray) -> np.ndarray:
    return z * _sigmoid(z)


def _dsilu(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _softplus(s: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.zeros((), s.dtype), s)


def _head(h1: np.ndarray, W2: np.ndarray, b2: np.ndarray, w3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """Layer 2 and the output unit: energies of rows of layer-1 activations."""
    h2 = _silu(h1 @ W2.T + b2)
    return _softplus(h2 @ w3 + b3)


def energy(
    x: Any, lens: Lens, backend: str = "auto", *, model_id: str | None = None, dtype: Any = np.float32
) -> np.ndarray:
    """Energies (N,) of embeddings x (N, D) or (D,) -> (1,)."""
    X = _rows(x, lens, model_id, dtype)
    W1, b1, W2, b2, w3, b3 = _weights(lens, dtype)
    out = np.empty(X.shape[0], dtype=dtype)
    for i in range(0, X.shape[0], _CHUNK):
        h1 = _silu(X[i : i + _CHUNK] @ W1.T + b1)
        out[i : i + _CHUNK] = _head(h1, W2, b2, w3, b3)
    return out


def energy_grad(
    x: Any, lens: Lens, backend: str = "auto", *, model_id: str | None = None, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """(energies (N,), d energy_i / d x_i (N, D)) by explicit backpropagation."""
    X = _rows(x, lens, model_id, dtype)
    W1, b1, W2, b2, w3, b3 = _weights(lens, dtype)
    e = np.empty(X.shape[0], dtype=dtype)
    g = np.empty(X.shape, dtype=dtype)
    for i in range(0, X.shape[0], _CHUNK):
        z1 = X[i : i + _CHUNK] @ W1.T + b1
        h1 = _silu(z1)
        z2 = h1 @ W2.T + b2
        h2 = _silu(z2)
        s = h2 @ w3 + b3
        e[i : i + _CHUNK] = _softplus(s)
        dz2 = _sigmoid(s)[:, None] * w3 * _dsilu(z2)  # d softplus(s)/ds = sigmoid(s)
        dz1 = (dz2 @ W2) * _dsilu(z1)
        g[i : i + _CHUNK] = dz1 @ W1
    return e, g


def landscape(
    lens: Lens,
    center: Any,
    a: Any,
    b: Any,
    s: Any,
    t: Any,
    backend: str = "auto",
    *,
    model_id: str | None = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Energies (S, T) on the plane x = center + s_i a + t_j b, via the rank-2 lift.

    W1 x + b1 = u + s_i p + t_j q with u = W1 center + b1, p = W1 a, q = W1 b, so each
    grid point costs O(H1 H2) instead of O(D H1).
    """
    c, av, bv = (_rows(v, lens, model_id, dtype)[0] for v in (center, a, b))
    sv = to_numpy(s, dtype).reshape(-1)
    tv = to_numpy(t, dtype).reshape(-1)
    W1, b1, W2, b2, w3, b3 = _weights(lens, dtype)
    u = W1 @ c + b1
    p = W1 @ av
    q = W1 @ bv
    out = np.empty((sv.size, tv.size), dtype=dtype)
    rows = max(1, _CHUNK // max(1, tv.size))
    for i in range(0, sv.size, rows):
        si = sv[i : i + rows]
        z1 = u + si[:, None, None] * p + tv[None, :, None] * q  # (rows, T, H1)
        e = _head(_silu(z1.reshape(-1, u.size)), W2, b2, w3, b3)
        out[i : i + rows] = e.reshape(si.size, tv.size)
    return out


def landscape_naive(
    lens: Lens,
    center: Any,
    a: Any,
    b: Any,
    s: Any,
    t: Any,
    backend: str = "auto",
    *,
    model_id: str | None = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """The definition of :func:`landscape`: lift every grid point to R^D and score it."""
    c, av, bv = (_rows(v, lens, model_id, dtype)[0] for v in (center, a, b))
    sv = to_numpy(s, dtype).reshape(-1)
    tv = to_numpy(t, dtype).reshape(-1)
    out = np.empty((sv.size, tv.size), dtype=dtype)
    for i, si in enumerate(sv):
        X = c + si * av + tv[:, None] * bv  # (T, D)
        out[i] = energy(X, lens, dtype=dtype)
    return out


def pairwise_cosine(x: Any, backend: str = "auto", *, dtype: Any = np.float32) -> np.ndarray:
    """Cosine distances (N, N): 1 - cos(x_i, x_j), clipped to [0, 2], zero diagonal.

    A zero vector has no direction; its similarity to everything is taken as 0
    (distance 1), except to itself (diagonal 0).
    """
    X = to_numpy(x, dtype)
    if X.ndim != 2:
        raise ValueError(f"pairwise_cosine expects (N, D), got shape {X.shape}")
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    Xn = X * inv[:, None]
    out = np.clip(1.0 - Xn @ Xn.T, 0.0, 2.0).astype(dtype, copy=False)
    np.fill_diagonal(out, 0.0)
    return out
