"""The object a user calls: fit, encode, reconstruct, translate, cycle, generate, save and load."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Union

import numpy as np
import torch

from sharedlatent.config import RunConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.io import load_weights, save_weights
from sharedlatent.model import SharedLatentModule
from sharedlatent.preprocessing import Preprocessor, fit_preprocessor, make_preprocessor, preprocessor_from_dict
from sharedlatent.schedules import build_schedule
from sharedlatent.train import History, fit_module

ArrayLike = Union[np.ndarray, torch.Tensor]
FORMAT_VERSION = 1
INFERENCE_CHUNK = 8192
NARROW_LAYOUT_WIDTH = 256  # measured on 2 cores: the 64-96-64-32-16 digits layout trains 1.4x faster on one thread


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run a block with `count` torch CPU threads, restoring the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(name: str) -> torch.device:
    """The torch device for a config value; "auto" prefers CUDA, then Apple MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SharedLatentError("train.device is 'cuda' but no CUDA GPU is available")
    return torch.device(name)


class SharedLatentVAE:
    """A shared latent space VAE over named domains; numpy (or torch) in, the same kind out."""

    def __init__(self, input_sizes: Mapping[str, int], config: RunConfig | None = None) -> None:
        self.config = config or RunConfig()
        self.input_sizes = {str(name): int(size) for name, size in input_sizes.items()}
        self.config.validate(self.input_sizes)
        self.device = resolve_device(self.config.train.device)
        torch.manual_seed(self.config.train.seed)
        model = self.config.model
        self.module = SharedLatentModule(
            self.input_sizes,
            {name: model.widths_for(name) for name in self.input_sizes},
            model.shared_widths,
            model.latent_size,
            {name: model.likelihood_for(name) for name in self.input_sizes},
        ).to(self.device)
        self.module.eval()
        self.latent_box: tuple[np.ndarray, np.ndarray] | None = None
        self.history: History | None = None
        # Inputs go through these before the network and outputs come back through their inverse.
        self.preprocessors: dict[str, Preprocessor] = {
            name: make_preprocessor(model.preprocessing_for(name)) for name in self.input_sizes
        }

    @property
    def domain_names(self) -> list[str]:
        return list(self.input_sizes)

    def fit(
        self,
        train: Mapping[str, ArrayLike],
        validation: Mapping[str, ArrayLike] | None = None,
        progress: bool | None = None,
    ) -> History:
        """Train with the configured schedule; without `validation`, hold out train.validation_fraction."""
        train_arrays = self._check_paired(train, "training data")
        self.preprocessors = {
            name: fit_preprocessor(self.config.model.preprocessing_for(name), values) for name, values in train_arrays.items()
        }
        train_arrays = self._preprocess(train_arrays)
        settings = self.config.train
        if validation is None and settings.validation_fraction > 0:
            train_arrays, validation_arrays = _hold_out(train_arrays, settings.validation_fraction, settings.seed)
        else:
            validation_arrays = None if validation is None else self._preprocess(self._check_paired(validation, "validation data"))
        stages = build_schedule(settings.schedule, self.domain_names, settings.epochs, settings.freeze_phases)
        with cpu_threads(self._thread_count()):
            self.history = fit_module(
                self.module,
                stages,
                self._tensors(train_arrays),
                None if validation_arrays is None else self._tensors(validation_arrays),
                settings,
                progress,
            )
        encodings = self._map_chunks(train_arrays, lambda batch: self.module.posterior(batch)[0])
        self.latent_box = (encodings.min(axis=0), encodings.max(axis=0))
        return self.history

    def encode(self, x: ArrayLike, domain: str) -> ArrayLike:
        """Latent means of samples of one domain."""
        return self.encode_joint({domain: x})

    def encode_joint(self, inputs: Mapping[str, ArrayLike]) -> ArrayLike:
        """Latent means from any subset of domains measured on the same samples."""
        arrays = self._preprocess(self._check_paired(inputs, "encoder input", allow_subset=True))
        mean = self._map_chunks(arrays, lambda batch: self.module.posterior(batch)[0])
        return _like(next(iter(inputs.values())), mean)

    def decode(self, z: ArrayLike) -> dict[str, ArrayLike]:
        """Point reconstructions of every domain from latent points."""
        latent = _as_numpy(z, "latent points", self.module.latent_size)
        decoded = {name: self._decode(latent, name) for name in self.domain_names}
        return {name: _like(z, values) for name, values in decoded.items()}

    def reconstruct(self, x: ArrayLike, domain: str) -> ArrayLike:
        """Encode one domain and decode it again."""
        return self.translate(x, domain, domain)

    def translate(self, x: ArrayLike, source: str, target: str) -> ArrayLike:
        """Encode samples of `source` and decode them as `target`."""
        self._check_domain(target)
        self._check_domain(source)
        latent = self.encode(_as_numpy(x, f"input for domain {source!r}", self.input_sizes[source]), source)
        return _like(x, self._decode(latent, target))

    def cycle(self, x: ArrayLike, source: str, target: str) -> ArrayLike:
        """Translate to `target` and back to `source`."""
        self._check_domain(source)
        there = self.translate(_as_numpy(x, f"input for domain {source!r}", self.input_sizes[source]), source, target)
        return _like(x, self.translate(there, target, source))

    def generate(self, n: int, method: str = "box", seed: int | None = None) -> dict[str, np.ndarray]:
        """New paired samples decoded from latent points: "box" draws uniformly inside the per-dimension
        min/max of the training encodings (the original), "prior" draws from N(0, I)."""
        if n < 1:
            raise SharedLatentError(f"number of samples to generate must be at least 1, got {n}")
        rng = np.random.default_rng(self.config.train.seed if seed is None else seed)
        if method == "box":
            if self.latent_box is None:
                raise SharedLatentError("generate(method='box') needs a trained model (the latent box comes from fit)")
            low, high = self.latent_box
            latent = rng.uniform(low, high, size=(n, len(low)))
        elif method == "prior":
            latent = rng.standard_normal((n, self.module.latent_size))
        else:
            raise SharedLatentError(f"unknown generation method {method!r}; choose 'box' or 'prior'")
        return self.decode(latent.astype(np.float32))

    def save(self, path: str | Path) -> None:
        """Write weights plus everything needed to rebuild the model to one safetensors file."""
        metadata: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "input_sizes": self.input_sizes,
            "latent_box": None if self.latent_box is None else [a.tolist() for a in self.latent_box],
            "preprocessors": {name: p.to_dict() for name, p in self.preprocessors.items()},
        }
        save_weights(path, self.module.state_dict(), metadata)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "SharedLatentVAE":
        """Rebuild a model written by save()."""
        tensors, metadata = load_weights(path)
        if metadata.get("format_version") != FORMAT_VERSION:
            raise SharedLatentError(f"{path} has format version {metadata.get('format_version')}, expected {FORMAT_VERSION}")
        config = RunConfig.from_dict(metadata["config"])
        config.train = dataclasses.replace(config.train, device=device)
        model = cls(metadata["input_sizes"], config)
        model.module.load_state_dict(tensors)
        model.preprocessors = {name: preprocessor_from_dict(values) for name, values in metadata["preprocessors"].items()}
        if metadata.get("latent_box") is not None:
            low, high = metadata["latent_box"]
            model.latent_box = (np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32))
        return model

    def _thread_count(self) -> int:
        """Configured CPU threads, or 1 when every layer is narrower than NARROW_LAYOUT_WIDTH."""
        if self.config.train.threads:
            return self.config.train.threads
        widest = max(p.shape[0] for p in self.module.parameters() if p.ndim == 2)
        return 1 if widest < NARROW_LAYOUT_WIDTH else torch.get_num_threads()

    def _decode(self, latent: np.ndarray, domain: str) -> np.ndarray:
        """Point reconstructions of `domain` in the user's units."""
        decoded = self._map_chunks(
            {"z": latent}, lambda batch: self.module.reconstruction(domain, self.module.decode(batch["z"], [domain])[domain])
        )
        return self.preprocessors[domain].inverse_transform(decoded)

    def _preprocess(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(self.preprocessors[name].transform(values), dtype=np.float32) for name, values in arrays.items()}

    @torch.no_grad()
    def _map_chunks(self, arrays: Mapping[str, np.ndarray], function) -> np.ndarray:
        self.module.eval()
        n = next(iter(arrays.values())).shape[0]
        pieces = []
        for start in range(0, n, INFERENCE_CHUNK):
            batch = {k: torch.from_numpy(v[start : start + INFERENCE_CHUNK]).to(self.device) for k, v in arrays.items()}
            pieces.append(function(batch).cpu().numpy())
        return np.concatenate(pieces) if pieces else np.zeros((0, 0), dtype=np.float32)

    def _tensors(self, arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(values).to(self.device) for name, values in arrays.items()}

    def _check_domain(self, domain: str) -> None:
        if domain not in self.input_sizes:
            raise SharedLatentError(f"unknown domain {domain!r}; this model has {', '.join(self.domain_names)}")

    def _check_paired(self, inputs: Mapping[str, ArrayLike], what: str, allow_subset: bool = False) -> dict[str, np.ndarray]:
        """Validated float32 arrays per domain with matching sample counts."""
        if not isinstance(inputs, Mapping) or not inputs:
            raise SharedLatentError(f"{what} must be a non-empty mapping of domain name to array")
        for name in inputs:
            self._check_domain(name)
        missing = [name for name in self.domain_names if name not in inputs]
        if missing and not allow_subset:
            raise SharedLatentError(f"{what} lacks domains {missing}")
        arrays = {name: _as_numpy(values, f"{what} for domain {name!r}", self.input_sizes[name]) for name, values in inputs.items()}
        counts = {name: values.shape[0] for name, values in arrays.items()}
        if len(set(counts.values())) > 1:
            raise SharedLatentError(f"{what}: domains have different sample counts {counts}")
        return arrays


def _as_numpy(values: ArrayLike, what: str, features: int) -> np.ndarray:
    """A finite float32 (samples x features) array with the expected feature count."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        array = np.ascontiguousarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise SharedLatentError(f"{what}: values are not numeric") from None
    if array.ndim == 1 and array.size == features:
        array = array[None, :]
    if array.ndim != 2:
        raise SharedLatentError(f"{what}: expected a 2-D array (samples x {features}), got shape {array.shape}")
    if array.shape[1] != features:
        raise SharedLatentError(f"{what}: expected {features} features per sample, got {array.shape[1]}")
    if not np.isfinite(array).all():
        raise SharedLatentError(f"{what}: contains {int((~np.isfinite(array)).sum())} NaN or infinite values")
    return array


def _like(template: Any, values: np.ndarray) -> ArrayLike:
    """Return torch when the caller passed torch, numpy otherwise."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(values).to(template.device)
    return values


def _hold_out(arrays: dict[str, np.ndarray], fraction: float, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Split off a seeded random share of samples for the validation loss."""
    n = next(iter(arrays.values())).shape[0]
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(n * fraction)))
    if held >= n:
        raise SharedLatentError(f"validation_fraction {fraction} leaves no training samples out of {n}")
    keep, hold = np.sort(order[held:]), np.sort(order[:held])
    return {k: v[keep] for k, v in arrays.items()}, {k: v[hold] for k, v in arrays.items()}
