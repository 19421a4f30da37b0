"""Geometric Lens: an energy model over candidate embeddings, and its kernels.

* :class:`Lens` (``atlas_kernel.lens.model``) - weights + metadata, save/load,
  embedding checks, torch round trip.
* :mod:`atlas_kernel.lens.ops` - energies, gradients, landscapes and pairwise cosine
  distances on the compiled CPU/CUDA kernels (``atlas_kernel._lens_ext``), built on
  :mod:`~atlas_kernel.lens.extension` (loading the kernels, choosing a backend) and
  :mod:`~atlas_kernel.lens.arrays` (NumPy / torch / CuPy / dlpack inputs).
* :mod:`atlas_kernel.lens.reference` - the same operations in plain NumPy (the oracle).
* :mod:`atlas_kernel.lens.scoring` / :mod:`~atlas_kernel.lens.train` - the pipeline's energy
  scorer and training.

Import order inside: model <- reference <- ops (ops never reaches back into the model).
Importing this package loads none of them: names load on first access, the extension on
the first kernel call, torch only in ``Lens.to_torch`` / ``Lens.from_torch`` or when torch
tensors are passed in.
"""

from __future__ import annotations

from atlas_kernel._lazy import lazy_exports

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

_EXPORTS = {
    "Lens": "model",
    "DEFAULT_HIDDEN": "model",
    "ops": "ops",
    "reference": "reference",
    "backends": "extension",
    "BackendUnavailableError": "extension",
    "energy": "ops",
    "energy_grad": "ops",
    "landscape": "ops",
    "pairwise_cosine": "ops",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
