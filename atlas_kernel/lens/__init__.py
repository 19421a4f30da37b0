"""Geometric Lens: an energy model over candidate embeddings, and its kernels.

* :class:`Lens` (``atlas_kernel.lens.model``) - weights + metadata, save/load,
  embedding checks, torch round trip.
* :mod:`atlas_kernel.lens.ops` - energies, gradients, landscapes and pairwise cosine
  distances on the compiled CPU/CUDA kernels (``atlas_kernel._lens_ext``).
* :mod:`atlas_kernel.lens.reference` - the same operations in plain NumPy (the oracle).

Importing this package loads neither torch nor the compiled extension: the extension
loads on the first kernel call, torch only in ``Lens.to_torch`` / ``Lens.from_torch``
or when torch tensors are passed in.
"""

from __future__ import annotations

from atlas_kernel.lens import ops, reference
from atlas_kernel.lens.model import DEFAULT_HIDDEN, Lens
from atlas_kernel.lens.ops import (
    BackendUnavailableError,
    backends,
    energy,
    energy_grad,
    landscape,
    pairwise_cosine,
)

__all__ = [
    "Lens",
    "DEFAULT_HIDDEN",
    "ops",
    "reference",
    "backends",
    "energy",
    "energy_grad",
    "landscape",
    "pairwise_cosine",
    "BackendUnavailableError",
]
