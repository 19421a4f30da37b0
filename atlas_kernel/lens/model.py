"""The Geometric Lens: a small energy MLP over a candidate's embedding.

Math (x in R^D is one embedding of the LLM named by ``model_id``)::

    h1 = silu(W1 x + b1)        W1: (H1, D), H1 = 512 by default
    h2 = silu(W2 h1 + b2)       W2: (H2, H1), H2 = 128 by default
    e  = softplus(w3 . h2 + b3) w3: (H2,),   b3: scalar

Low energy = likely correct. :class:`Lens` is a plain data object (float32 NumPy
weights + metadata); computing energies, gradients, landscapes lives in
:mod:`atlas_kernel.lens.ops` (compiled kernels) and :mod:`atlas_kernel.lens.reference`.

Storage format (``Lens.save`` / ``Lens.load``), format_version 1
-----------------------------------------------------------------
Weights are the six arrays ``W1 (H1, D)``, ``b1 (H1,)``, ``W2 (H2, H1)``, ``b2 (H2,)``,
``w3 (H2,)``, ``b3 ()`` - float32, little-endian, the torch ``nn.Linear`` layout
(``weight`` is ``(out, in)``). Metadata is one JSON object::

    {"format": "atlas-lens", "format_version": 1,
     "model_id": str | null, "dim": D, "hidden": [H1, H2],
     "training_data_sha256": str | null, "info": {...},
     "weights_sha256": "<hex>"}

``weights_sha256`` is the SHA-256 over, for each array in the order above, the
UTF-8 name, the shape as text (e.g. ``"(512, 576)"``) and the raw float32 bytes; it is
checked on load so a truncated or edited file fails loudly.

* Single file ``*.npz`` (path ends in ``.npz``): the six arrays plus ``meta``, a 0-d
  unicode array holding the JSON. Readable with ``np.load(path)`` (no pickle).
* Directory (any other path): ``lens.json`` (the JSON, human-readable) and
  ``weights.npz`` (the six arrays only).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["Lens", "FORMAT_NAME", "FORMAT_VERSION", "DEFAULT_HIDDEN"]

FORMAT_NAME = "atlas-lens"
FORMAT_VERSION = 1
DEFAULT_HIDDEN: tuple[int, int] = (512, 128)
WEIGHT_NAMES: tuple[str, ...] = ("W1", "b1", "W2", "b2", "w3", "b3")
_META_KEYS = ("model_id", "training_data_sha256", "info")


def _as_f32(name: str, value: Any) -> np.ndarray:
    """A read-only, C-contiguous float32 copy-or-view of a weight array."""
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().to("cpu").float().numpy()
    arr = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    if arr is value:  # never alias (and freeze) an array the caller still owns
        arr = arr.copy()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"lens weight {name} contains NaN or Inf")
    arr.flags.writeable = False
    return arr


class Lens:
    """Weights and metadata of one Geometric Lens.

    Weights are immutable float32 arrays (``lens.W1`` etc.); assigning a new array of
    the same shape is allowed and invalidates the compiled-kernel caches. The lens knows
    which LLM's embeddings it was trained on (``model_id``) and refuses others in
    :meth:`check_embeddings`.
    """

    __slots__ = ("_w", "model_id", "training_data_sha256", "info", "kernel_cache")

    #: ``kernel_cache``: compiled copies of the weights (CPU-packed, one per CUDA device), filled
    #: and read by :mod:`atlas_kernel.lens.ops`, emptied here whenever a weight changes.
    kernel_cache: dict[Any, Any]

    def __init__(
        self,
        W1: Any,
        b1: Any,
        W2: Any,
        b2: Any,
        w3: Any,
        b3: Any,
        *,
        model_id: str | None = None,
        training_data_sha256: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        w = {n: _as_f32(n, v) for n, v in zip(WEIGHT_NAMES, (W1, b1, W2, b2, w3, b3))}
        w["b3"] = w["b3"].reshape(())
        _check_shapes(w)
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "kernel_cache", {})
        self.model_id = None if model_id is None else str(model_id)
        self.training_data_sha256 = None if training_data_sha256 is None else str(training_data_sha256)
        self.info = dict(info or {})

    # ------------------------------------------------------------------ weights
    def __getattr__(self, name: str) -> Any:
        # only reached for names not found normally: the weight arrays
        if name in WEIGHT_NAMES:
            return object.__getattribute__(self, "_w")[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in WEIGHT_NAMES:
            new = _as_f32(name, value)
            old = self._w[name]
            if name == "b3":
                new = new.reshape(())
            if new.shape != old.shape:
                raise ValueError(
                    f"{name} must keep shape {old.shape}, got {new.shape}; "
                    "build a new Lens to change dimensions"
                )
            self._w[name] = new
            self.kernel_cache.clear()  # packed / device copies are now stale
            return
        object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        """Embedding dimension D this lens accepts."""
        return int(self._w["W1"].shape[1])

    @property
    def hidden(self) -> tuple[int, int]:
        """(H1, H2)."""
        return int(self._w["W1"].shape[0]), int(self._w["W2"].shape[0])

    def weights(self) -> dict[str, np.ndarray]:
        """The six weight arrays by name (read-only views)."""
        return dict(self._w)

    def weights_sha256(self) -> str:
        """Content hash of the weights (see the module docstring for the recipe)."""
        h = hashlib.sha256()
        for name in WEIGHT_NAMES:
            arr = self._w[name]
            h.update(name.encode())
            h.update(str(tuple(arr.shape)).encode())
            h.update(arr.astype("<f4", copy=False).tobytes())
        return h.hexdigest()

    def num_parameters(self) -> int:
        return int(sum(a.size for a in self._w.values()))

    # ------------------------------------------------------------------ creation
    @classmethod
    def init(
        cls,
        dim: int,
        seed: int = 0,
        hidden: tuple[int, int] = DEFAULT_HIDDEN,
        model_id: str | None = None,
    ) -> "Lens":
        """An untrained lens: N(0, 1/fan_in) weights, zero biases, b3 = 0.

        Variance 1/fan_in keeps pre-activations O(1) through both SiLU layers, so
        fresh energies sit near softplus(0) = 0.69 with a spread of ~0.1-0.3 and
        gradients neither vanish nor explode. Deterministic in ``seed``.
        """
        dim = int(dim)
        h1, h2 = (int(v) for v in hidden)
        if dim < 1 or h1 < 1 or h2 < 1:
            raise ValueError(f"dim and hidden sizes must be >= 1, got dim={dim}, hidden={hidden}")
        rng = np.random.default_rng(seed)

        def normal(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
            return (rng.standard_normal(shape, dtype=np.float32) / np.float32(math.sqrt(fan_in)))

        return cls(
            normal((h1, dim), dim),
            np.zeros(h1, np.float32),
            normal((h2, h1), h1),
            np.zeros(h2, np.float32),
            normal((h2,), h2),
            np.float32(0.0),
            model_id=model_id,
            info={"init": "normal(0, 1/fan_in)", "seed": int(seed)},
        )

    def copy(self) -> "Lens":
        return Lens(**self._w, **self.metadata_kwargs())

    def metadata_kwargs(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "training_data_sha256": self.training_data_sha256,
            "info": dict(self.info),
        }

    # ------------------------------------------------------------------ checks
    def check_embeddings(self, x: Any, model_id: str | None = None) -> None:
        """Raise ``ValueError`` if ``x`` cannot be this lens's input.

        ``x`` is one embedding (D,) or a batch (N, D) - anything with a ``.shape``
        (NumPy, torch, CuPy; never copied) or a nested list. ``model_id`` names the
        LLM that produced ``x``; when both it and ``self.model_id`` are known they must
        match. The message names both models and both dimensions.
        """
        shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
        self.check_shape(shape, model_id)

    def check_shape(self, shape: tuple[int, ...], model_id: str | None = None) -> None:
        """:meth:`check_embeddings` for a shape already known (the kernels' device inputs)."""
        got_dim = shape[-1] if shape else None
        mine = f"model {self.model_id!r}" if self.model_id else "an unnamed model"
        theirs = f"model {model_id!r}" if model_id else "an unnamed model"
        if model_id is not None and self.model_id is not None and str(model_id) != self.model_id:
            raise ValueError(
                f"Lens/embedding mismatch: this lens was trained on embeddings of {mine} "
                f"(dim {self.dim}) but received embeddings of {theirs} (dim {got_dim}). "
                "Use the lens trained for that model."
            )
        if len(shape) not in (1, 2):
            raise ValueError(
                f"embeddings must have shape (D,) or (N, D) with D = {self.dim}, got shape {shape}"
            )
        if got_dim != self.dim:
            raise ValueError(
                f"Lens/embedding mismatch: this lens was trained on embeddings of {mine} "
                f"(dim {self.dim}) but received dim-{got_dim} embeddings from {theirs}. "
                "Use the lens trained for the model that produced these embeddings."
            )

    # ------------------------------------------------------------------ persistence
    def metadata(self) -> dict[str, Any]:
        """The JSON metadata object written by :meth:`save`."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "dim": self.dim,
            "hidden": list(self.hidden),
            "training_data_sha256": self.training_data_sha256,
            "info": self.info,
            "weights_sha256": self.weights_sha256(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``path``: a single ``.npz`` file, or else a directory.

        Returns the path written. Overwrites an existing lens at that path.
        """
        path = Path(path)
        try:
            meta_json = json.dumps(self.metadata(), indent=2, sort_keys=True)
        except TypeError as exc:
            raise TypeError(f"Lens.info must be JSON-serialisable: {exc}") from None
        arrays = {n: np.asarray(a, dtype="<f4") for n, a in self._w.items()}
        if path.suffix == ".npz":
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp.npz")
            np.savez(tmp, meta=np.array(meta_json), **arrays)
            os.replace(tmp, path)  # atomic: readers never see half a file
        else:
            path.mkdir(parents=True, exist_ok=True)
            tmp = path / "weights.tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, path / "weights.npz")
            (path / "lens.json").write_text(meta_json + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Lens":
        """Read a lens written by :meth:`save` (either layout), verifying its hash."""
        path = Path(path)
        if path.is_dir():
            meta_file = path / "lens.json"
            if not meta_file.is_file():
                raise FileNotFoundError(f"{path} is a directory but has no lens.json")
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            with np.load(path / "weights.npz", allow_pickle=False) as z:
                arrays = {n: z[n] for n in WEIGHT_NAMES if n in z.files}
        elif path.is_file():
            with np.load(path, allow_pickle=False) as z:
                if "meta" not in z.files:
                    raise ValueError(f"{path} is not an atlas-lens file (no 'meta' entry)")
                meta = json.loads(str(z["meta"][()]))
                arrays = {n: z[n] for n in WEIGHT_NAMES if n in z.files}
        else:
            raise FileNotFoundError(f"no lens at {path}")
        if meta.get("format") != FORMAT_NAME:
            raise ValueError(f"{path}: not an atlas-lens file (format={meta.get('format')!r})")
        if int(meta.get("format_version", -1)) > FORMAT_VERSION:
            raise ValueError(
                f"{path}: format_version {meta['format_version']} is newer than this code "
                f"supports ({FORMAT_VERSION}); upgrade atlas_kernel"
            )
        missing = [n for n in WEIGHT_NAMES if n not in arrays]
        if missing:
            raise ValueError(f"{path}: missing weight arrays {missing}")
        lens = cls(**arrays, **{k: meta.get(k) for k in _META_KEYS})
        expected = meta.get("weights_sha256")
        if expected and expected != lens.weights_sha256():
            raise ValueError(f"{path}: weights do not match weights_sha256 (corrupted or edited file)")
        if meta.get("dim") not in (None, lens.dim) or (
            meta.get("hidden") is not None and tuple(meta["hidden"]) != lens.hidden
        ):
            raise ValueError(f"{path}: metadata dim/hidden disagree with the weight shapes")
        return lens

    # ------------------------------------------------------------------ torch
    def to_torch(self) -> Any:
        """An ``nn.Module`` (float32, CPU) computing the same energies.

        ``module(x)`` maps (..., D) to (...,). Layers are ``fc1``, ``fc2``, ``fc3``
        (``nn.Linear``); the lens metadata rides along as ``module.lens_meta`` so
        :meth:`from_torch` can restore it. torch is imported only here.
        """
        import torch

        cls = _torch_module_class()
        h1, h2 = self.hidden
        module = cls(self.dim, (h1, h2))
        with torch.no_grad():
            module.fc1.weight.copy_(torch.from_numpy(self._w["W1"].copy()))
            module.fc1.bias.copy_(torch.from_numpy(self._w["b1"].copy()))
            module.fc2.weight.copy_(torch.from_numpy(self._w["W2"].copy()))
            module.fc2.bias.copy_(torch.from_numpy(self._w["b2"].copy()))
            module.fc3.weight.copy_(torch.from_numpy(self._w["w3"].reshape(1, -1).copy()))
            module.fc3.bias.copy_(torch.from_numpy(self._w["b3"].reshape(1).copy()))
        module.lens_meta = self.metadata_kwargs()
        return module

    @classmethod
    def from_torch(cls, module: Any, **meta: Any) -> "Lens":
        """Build a Lens from a torch module with the lens architecture.

        Accepts the module made by :meth:`to_torch` (or any module with ``fc1``,
        ``fc2``, ``fc3`` Linear layers), or a module whose only layers are exactly three
        ``nn.Linear`` (D->H1->H2->1) plus ``SiLU`` / ``Softplus`` activations, e.g. an
        ``nn.Sequential``. ``meta`` (``model_id``, ``training_data_sha256``, ``info``)
        overrides ``module.lens_meta`` when present.
        """
        from torch import nn

        unknown = set(meta) - set(_META_KEYS)
        if unknown:
            raise TypeError(f"unknown metadata keys {sorted(unknown)}; allowed: {list(_META_KEYS)}")
        if all(isinstance(getattr(module, n, None), nn.Linear) for n in ("fc1", "fc2", "fc3")):
            layers = [module.fc1, module.fc2, module.fc3]
        else:
            layers = []
            for sub in module.modules():
                if isinstance(sub, nn.Linear):
                    layers.append(sub)
                elif not list(sub.children()) and not isinstance(
                    sub, (nn.SiLU, nn.Softplus, nn.Identity, nn.Flatten)
                ):
                    raise ValueError(
                        f"unsupported layer {type(sub).__name__}: a lens is Linear-SiLU-Linear-SiLU-Linear-Softplus"
                    )
            if len(layers) != 3:
                raise ValueError(f"expected exactly 3 nn.Linear layers, found {len(layers)}")
        fc1, fc2, fc3 = layers
        if fc2.in_features != fc1.out_features or fc3.in_features != fc2.out_features or fc3.out_features != 1:
            raise ValueError(
                "Linear shapes do not chain as D->H1->H2->1: "
                f"{[(l.in_features, l.out_features) for l in layers]}"
            )
        if any(l.bias is None for l in layers):
            raise ValueError("all three Linear layers need a bias")
        kwargs = dict(getattr(module, "lens_meta", None) or {})
        kwargs.update(meta)

        def arr(t: Any) -> np.ndarray:
            return t.detach().to("cpu").float().numpy().copy()

        return cls(
            arr(fc1.weight), arr(fc1.bias), arr(fc2.weight), arr(fc2.bias),
            arr(fc3.weight).reshape(-1), arr(fc3.bias).reshape(()),
            **{k: kwargs.get(k) for k in _META_KEYS},
        )

    # ------------------------------------------------------------------ misc
    def __getstate__(self) -> dict[str, Any]:
        # compiled-kernel caches hold capsules / device memory: never pickled
        return {"w": {n: np.array(a) for n, a in self._w.items()}, **self.metadata_kwargs()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Lens.__init__(self, **state["w"], **{k: state.get(k) for k in _META_KEYS})

    def __repr__(self) -> str:
        return (
            f"Lens(model_id={self.model_id!r}, dim={self.dim}, hidden={self.hidden}, "
            f"params={self.num_parameters():,})"
        )

    def allclose(self, other: "Lens", rtol: float = 0.0, atol: float = 0.0) -> bool:
        """Same shapes and (within tolerance) same weights; metadata is not compared."""
        return all(
            self._w[n].shape == other._w[n].shape and np.allclose(self._w[n], other._w[n], rtol=rtol, atol=atol)
            for n in WEIGHT_NAMES
        )


def _check_shapes(w: Mapping[str, np.ndarray]) -> None:
    W1, b1, W2, b2, w3, b3 = (w[n] for n in WEIGHT_NAMES)
    problems: list[str] = []
    if W1.ndim != 2 or W1.shape[0] < 1 or W1.shape[1] < 1:
        problems.append(f"W1 must be (H1, D), got {W1.shape}")
    else:
        h1 = W1.shape[0]
        if b1.shape != (h1,):
            problems.append(f"b1 must be ({h1},), got {b1.shape}")
        if W2.ndim != 2 or W2.shape[1] != h1 or W2.shape[0] < 1:
            problems.append(f"W2 must be (H2, {h1}), got {W2.shape}")
        else:
            h2 = W2.shape[0]
            if b2.shape != (h2,):
                problems.append(f"b2 must be ({h2},), got {b2.shape}")
            if w3.reshape(-1).shape != (h2,) or w3.ndim > 2:
                problems.append(f"w3 must be ({h2},), got {w3.shape}")
    if b3.size != 1:
        problems.append(f"b3 must be a scalar, got shape {b3.shape}")
    if problems:
        raise ValueError("inconsistent lens weights: " + "; ".join(problems))
    if w3.ndim != 1:  # accept (1, H2) as produced by torch's fc3.weight
        w["w3"] = _freeze(w3.reshape(-1))  # type: ignore[index]


def _freeze(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


_TORCH_MODULE_CLASS: Any = None


def _torch_module_class() -> Any:
    """nn.Module subclass for the lens, defined on first use (keeps torch lazy)."""
    global _TORCH_MODULE_CLASS
    if _TORCH_MODULE_CLASS is None:
        import torch.nn.functional as F
        from torch import nn

        class LensModule(nn.Module):
            """Energy MLP: softplus(fc3(silu(fc2(silu(fc1(x)))))) with shape (..., D) -> (...)."""

            def __init__(self, dim: int, hidden: Iterable[int] = DEFAULT_HIDDEN) -> None:
                super().__init__()
                h1, h2 = hidden
                self.fc1 = nn.Linear(dim, h1)
                self.fc2 = nn.Linear(h1, h2)
                self.fc3 = nn.Linear(h2, 1)
                self.lens_meta: dict[str, Any] = {}

            def forward(self, x: Any) -> Any:
                h = F.silu(self.fc1(x))
                h = F.silu(self.fc2(h))
                return F.softplus(self.fc3(h)).squeeze(-1)

        _TORCH_MODULE_CLASS = LensModule
    return _TORCH_MODULE_CLASS
