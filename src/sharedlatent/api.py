"""The object a user calls: fit, encode, reconstruct, translate, cycle, generate, save and load."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from sharedlatent.config import RunConfig
from sharedlatent.datasets.base import Split
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.preprocessing import Preprocessor, fit_preprocessor, make_preprocessor, preprocessor_from_dict
from sharedlatent.storage import load_weights, save_weights
from sharedlatent.training.loop import History, TensorData, fit_module
from sharedlatent.training.schedules import build_schedule

ArrayLike = Union[np.ndarray, torch.Tensor]
Masks = dict[str, np.ndarray]
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
            {name: model.likelihood_options_for(name) for name in self.input_sizes},
            model.joint_posterior,
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
        train: Mapping[str, ArrayLike] | Split,
        validation: Mapping[str, ArrayLike] | Split | None = None,
        progress: bool | None = None,
        present: Mapping[str, ArrayLike] | None = None,
    ) -> History:
        """Train with the configured schedule; without `validation`, hold out train.validation_fraction.

        Partially paired data: a sample missing from a domain is an all-NaN row in that domain's array, or False
        in `present[domain]` (a boolean per sample; a Split carries its own). Such a sample trains the paths of
        the domains it has, and never a path that needs the missing one."""
        train_arrays, train_present = self._check_partial(train, "training data", present)
        self.preprocessors = {
            name: fit_preprocessor(self.config.model.preprocessing_for(name), _rows_of(values, train_present, name))
            for name, values in train_arrays.items()
        }
        train_arrays = self._preprocess(train_arrays, train_present)
        for name, values in train_arrays.items():
            self.module.likelihoods[name].check_data(_rows_of(values, train_present, name), name)
        self.module.set_library_sizes(
            {name: torch.from_numpy(_rows_of(v, train_present, name)) for name, v in train_arrays.items()}
        )
        settings = self.config.train
        if validation is None and settings.validation_fraction > 0:
            (train_arrays, train_present), (validation_arrays, validation_present) = _hold_out(
                train_arrays, settings.validation_fraction, settings.seed, train_present
            )
        elif validation is None:
            validation_arrays, validation_present = None, None
        else:
            validation_arrays, validation_present = self._check_partial(validation, "validation data")
            validation_arrays = self._preprocess(validation_arrays, validation_present)
        stages = build_schedule(settings.schedule, self.domain_names, settings.epochs, settings.freeze_phases)
        with cpu_threads(self._thread_count()):
            self.history = fit_module(
                self.module,
                stages,
                TensorData(self._tensors(train_arrays), self._mask_tensors(train_present)),
                None
                if validation_arrays is None
                else TensorData(self._tensors(validation_arrays), self._mask_tensors(validation_present)),
                settings,
                progress,
            )
        encodings = self._encode_masked(train_arrays, train_present)
        self.latent_box = (encodings.min(axis=0), encodings.max(axis=0))
        return self.history

    def encode(self, x: ArrayLike, domain: str) -> ArrayLike:
        """Latent means of samples of one domain."""
        return self.encode_joint({domain: x})

    def encode_joint(self, inputs: Mapping[str, ArrayLike]) -> ArrayLike:
        """Latent means from any subset of domains measured on the same samples; an all-NaN row marks a sample
        that lacks that domain, and only its present domains are combined."""
        arrays, present = self._check_partial(inputs, "encoder input", allow_subset=True)
        mean = self._encode_masked(self._preprocess(arrays, present), present)
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
        prepared = self._preprocess({source: _as_numpy(x, f"input for domain {source!r}", self.input_sizes[source])})
        latent = self._encode_masked(prepared, None)
        # Reconstructing a count domain from itself keeps each sample's observed library size.
        observed = prepared[source] if source == target and self.module.uses_observed_library(target) else None
        return _like(x, self._decode(latent, target, observed))

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
    def load(cls, path: str | Path, device: str = "cpu") -> SharedLatentVAE:
        """Rebuild a model written by save()."""
        tensors, metadata = load_weights(path)
        if metadata.get("format_version") != FORMAT_VERSION:
            raise SharedLatentError(
                f"{path} has format version {metadata.get('format_version')}, expected {FORMAT_VERSION}"
            )
        config = RunConfig.from_dict(metadata["config"])
        config.train = dataclasses.replace(config.train, device=device)
        model = cls(metadata["input_sizes"], config)
        model.module.load_state_dict(tensors)
        model.preprocessors = {
            name: preprocessor_from_dict(values) for name, values in metadata["preprocessors"].items()
        }
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

    def _decode(self, latent: np.ndarray, domain: str, observed: np.ndarray | None = None) -> np.ndarray:
        """Point reconstructions of `domain` in the user's units (`observed`: that domain's preprocessed input, for its library size)."""
        arrays = {"z": latent} if observed is None else {"z": latent, "x": observed}

        def reconstruct(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            library = self.module.observed_library(domain, batch["x"]) if "x" in batch else None
            return self.module.reconstruction(domain, self.module.decode(batch["z"], [domain])[domain], library)

        return self.preprocessors[domain].inverse_transform(self._map_chunks(arrays, reconstruct))

    def _preprocess(self, arrays: Mapping[str, np.ndarray], present: Masks | None = None) -> dict[str, np.ndarray]:
        """Transformed float32 arrays; rows of absent samples (per `present`) stay zero."""
        out = {}
        for name, values in arrays.items():
            transformed = np.ascontiguousarray(self.preprocessors[name].transform(values), dtype=np.float32)
            if present is not None and name in present:
                transformed[~present[name]] = 0.0
            out[name] = transformed
        return out

    def _encode_masked(self, arrays: Mapping[str, np.ndarray], present: Masks | None) -> np.ndarray:
        """Latent means of preprocessed `arrays`, combining only the present domains of each row."""
        if present is None:
            return self._map_chunks(arrays, lambda batch: self.module.posterior(batch)[0])
        names = list(arrays)
        stacked = {**arrays, **{f"present:{name}": present[name].astype(np.float32) for name in names}}
        return self._map_chunks(
            stacked,
            lambda batch: self.module.posterior(
                {n: batch[n] for n in names}, {n: batch[f"present:{n}"] for n in names}
            )[0],
        )

    def _mask_tensors(self, present: Masks | None) -> dict[str, torch.Tensor] | None:
        return (
            None
            if present is None
            else {name: torch.from_numpy(m.astype(np.float32)).to(self.device) for name, m in present.items()}
        )

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

    def _check_partial(
        self,
        inputs: Mapping[str, ArrayLike] | Split,
        what: str,
        present: Mapping[str, ArrayLike] | None = None,
        allow_subset: bool = False,
    ) -> tuple[dict[str, np.ndarray], Masks | None]:
        """Arrays with absent rows zeroed, and presence masks (None when every sample has every domain).

        Absence comes from all-NaN rows, from `present`, or from a Split's own masks; a row must be all finite or all NaN."""
        if isinstance(inputs, Split):
            if present is not None and inputs.present is not None:
                raise SharedLatentError(f"{what}: give presence masks either in the Split or as present=, not both")
            inputs, present = inputs.domains, present if present is not None else inputs.present
        if not isinstance(inputs, Mapping) or not inputs:
            raise SharedLatentError(f"{what} must be a non-empty mapping of domain name to array")
        arrays, masks = {}, {}
        for name, values in inputs.items():
            self._check_domain(name)
            array = _as_numpy(values, f"{what} for domain {name!r}", self.input_sizes[name], allow_nan=True)
            if np.isinf(array).any():
                raise SharedLatentError(
                    f"{what} for domain {name!r}: contains {int(np.isinf(array).sum())} infinite values"
                )
            nan = np.isnan(array)
            missing = nan.all(axis=1)
            if nan[~missing].any():
                rows = int(nan[~missing].any(axis=1).sum())
                raise SharedLatentError(
                    f"{what} for domain {name!r}: {rows} rows mix NaN with numbers; a row must be all numbers or all NaN (sample absent)"
                )
            arrays[name], masks[name] = np.where(missing[:, None], np.float32(0), array), ~missing
        missing_domains = [name for name in self.domain_names if name not in arrays]
        if missing_domains and not allow_subset:
            raise SharedLatentError(f"{what} lacks domains {missing_domains}")
        counts = {name: values.shape[0] for name, values in arrays.items()}
        if len(set(counts.values())) > 1:
            raise SharedLatentError(f"{what}: domains have different sample counts {counts}")
        n = next(iter(counts.values()))
        for name, given in (present or {}).items():
            if name not in arrays:
                raise SharedLatentError(f"{what}: present names domain {name!r}, which the data does not have")
            mask = np.asarray(given.detach().cpu().numpy() if isinstance(given, torch.Tensor) else given)
            if mask.shape != (n,) or mask.dtype != bool:
                raise SharedLatentError(
                    f"{what}: present[{name!r}] must be a boolean array of {n} entries, got {mask.dtype} of shape {mask.shape}"
                )
            masks[name] = masks[name] & mask
            arrays[name][~mask] = 0.0
        nowhere = ~np.any(np.stack(list(masks.values())), axis=0)
        if nowhere.any():
            raise SharedLatentError(
                f"{what}: {int(nowhere.sum())} samples are absent from every domain (e.g. row {int(np.argmax(nowhere))})"
            )
        if all(m.all() for m in masks.values()):
            return arrays, None
        return arrays, masks


def _as_numpy(values: ArrayLike, what: str, features: int, allow_nan: bool = False) -> np.ndarray:
    """A finite float32 (samples x features) array with the expected feature count (NaN checked by the caller if `allow_nan`)."""
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
    if not allow_nan and not np.isfinite(array).all():
        raise SharedLatentError(f"{what}: contains {int((~np.isfinite(array)).sum())} NaN or infinite values")
    return array


def _like(template: Any, values: np.ndarray) -> ArrayLike:
    """Return torch when the caller passed torch, numpy otherwise."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(values).to(template.device)
    return values


def _hold_out(
    arrays: dict[str, np.ndarray], fraction: float, seed: int, present: Masks | None = None
) -> tuple[tuple[dict[str, np.ndarray], Masks | None], tuple[dict[str, np.ndarray], Masks | None]]:
    """Split off a seeded random share of samples (with their presence masks) for the validation loss."""
    n = next(iter(arrays.values())).shape[0]
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(n * fraction)))
    if held >= n:
        raise SharedLatentError(f"validation_fraction {fraction} leaves no training samples out of {n}")
    keep, hold = np.sort(order[held:]), np.sort(order[:held])

    def part(rows: np.ndarray) -> tuple[dict[str, np.ndarray], Masks | None]:
        masks = None if present is None else {k: m[rows] for k, m in present.items()}
        return {k: v[rows] for k, v in arrays.items()}, masks

    return part(keep), part(hold)


def _rows_of(values: np.ndarray, present: Masks | None, name: str) -> np.ndarray:
    """The rows of `values` whose sample has domain `name`."""
    return values if present is None or name not in present else values[present[name]]
