"""The object a user calls: fit, encode, predict (translate, reconstruct), cycle, generate, save and load.

Numpy (or torch) in, the same kind out. The torch math lives in nn/, the loop and device policy in training/,
input validation in arrays.py and datasets/partial.py; this class wires them together and does no math."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sharedlatent import names
from sharedlatent.arrays import as_matrix
from sharedlatent.auto_settings import AutoChoice, count_likelihood_warning, provisional, resolve_auto
from sharedlatent.config import RunConfig, TrainConfig
from sharedlatent.count_inputs import library_column, warn_unless_counts
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.partial import PresenceMasks, check_partial
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.preprocessing import (
    Preprocessor,
    fit_preprocessors,
    make_preprocessor,
    preprocessor_from_dict,
    present_rows,
    transform_all,
)
from sharedlatent.scverse import latent as scverse_latent
from sharedlatent.scverse.objects import kind_of, register, training_arrays
from sharedlatent.scverse.registration import Registration
from sharedlatent.scverse.translation import translate_object
from sharedlatent.storage import load_weights, save_weights
from sharedlatent.training.checkpoint import Checkpoint, as_checkpoint
from sharedlatent.training.epoch_search import CV_FOLDS, EpochSearch, search_epochs
from sharedlatent.training.holdout import hold_out, validation_size
from sharedlatent.training.loop import History, TensorData, fit_module
from sharedlatent.training.runtime import INFERENCE_CHUNK, cpu_threads, map_chunks, resolve_device, thread_count
from sharedlatent.training.schedules import build_schedule

ArrayLike = np.ndarray | torch.Tensor
Masks = PresenceMasks  # version 0.1 name
FORMAT_VERSION = 1
__all__ = ["INFERENCE_CHUNK", "Prediction", "SharedLatentVAE"]


@dataclasses.dataclass
class Prediction:
    """What `predict` returns: the latent means and each requested domain's point reconstruction."""

    latent: ArrayLike
    decoded: dict[str, ArrayLike]


class SharedLatentVAE:
    """A shared latent space VAE over named domains; numpy (or torch) in, the same kind out.

    Parameters
    ----------
    input_sizes
        Features per domain, e.g. ``{"rna": 2000, "protein": 30}``; the order is the domains' order.
    config
        Model layout and training settings; the defaults of RunConfig when None.
    """

    _module_cls = SharedLatentModule

    def __init__(self, input_sizes: Mapping[str, int], config: RunConfig | None = None) -> None:
        self.config = config or RunConfig()
        self.input_sizes = {str(name): int(size) for name, size in input_sizes.items()}
        self.config.validate(self.input_sizes)
        self.device = resolve_device(self.config.train.device)
        self.latent_box: tuple[np.ndarray, np.ndarray] | None = None
        self.history: History | None = None
        self.auto_choices: dict[str, AutoChoice] = {}  # what fit chose for "auto" likelihoods and preprocessing
        self.epoch_search: EpochSearch | None = None  # set by fit when a tiny hold-out gave way to k-fold CV
        self.registration: Registration | None = None  # where AnnData / MuData input is read (scverse/)
        self.loaded_from: str | None = None
        self._build()

    @classmethod
    def from_data(
        cls,
        data: Any,
        config: RunConfig | None = None,
        *,
        layer: str | Mapping[str, str] | None = None,
        obsm: str | Mapping[str, str] | None = None,
        modalities: Mapping[str, str] | None = None,
    ) -> SharedLatentVAE:
        """A model registered on a MuData (a domain per modality) or a mapping of domain name to AnnData.

        Parameters
        ----------
        data
            The cells the model will train on; only their feature names and matrix choices are read here.
        layer, obsm
            Where each domain's values are (one name for all domains or a mapping domain -> name); X otherwise.
        modalities
            Domain name -> MuData modality, to train on some modalities or rename them (default: all, as named).
        """
        registration = register(data, list(modalities or []) or None, layer, obsm, modalities)
        model = cls(registration.input_sizes, config)
        model.registration = registration
        return model

    def _build(self) -> None:
        """The untrained module and preprocessors of the config ("auto" read as the image defaults until fit)."""
        model_config = provisional(self.config.model, self.domain_names)
        torch.manual_seed(self.config.train.seed)
        self.module = self._module_cls.from_config(model_config, self.input_sizes).to(self.device)
        self.module.eval()
        # Inputs go through these before the network and outputs come back through their inverse.
        self.preprocessors: dict[str, Preprocessor] = {
            name: make_preprocessor(model_config.preprocessing_for(name)) for name in self.input_sizes
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
        checkpoint: str | Path | Checkpoint | None = None,
        resume: bool = False,
    ) -> History:
        """Train with the configured schedule; without `validation`, hold out train.validation_fraction.

        Parameters
        ----------
        train
            An array per domain (samples x features, rows aligned across domains), or a Split.
        validation
            Samples for the validation loss, in the same form; None holds out part of `train`.
        progress
            Show progress bars; None follows train.progress.
        present
            Partially paired data: a boolean per sample and domain, False where the sample lacks the domain
            (an all-NaN row says the same; a Split carries its own). Such a sample trains the routes of the
            domains it has, and never a route that needs the missing one.
        checkpoint
            A folder where training saves its state (train.checkpoint_every, train.checkpoint_minutes).
        resume
            Continue from `checkpoint`'s saved state: the result equals an uninterrupted fit's.
        """
        if kind_of(train):  # AnnData, MuData or sparse: cells paired by obs_names (scverse/objects.py)
            train, present = training_arrays(self, train, present)
        train_arrays, train_present = check_partial(train, "training data", self.input_sizes, present=present)
        checkpoint = as_checkpoint(checkpoint, self.config)  # identified by the config as given, "auto" and all
        self._choose_auto_settings(train_arrays, train_present)
        settings = self._trained_length(train_arrays, train_present, validation)
        train_arrays = self._fit_preprocessing(train_arrays, train_present)
        if validation is not None:
            validation_arrays, validation_present = check_partial(validation, "validation data", self.input_sizes)
            validation_part = (
                transform_all(self.preprocessors, validation_arrays, validation_present),
                validation_present,
            )
        elif validation_size(len(next(iter(train_arrays.values()))), settings.validation_fraction):
            (train_arrays, train_present), validation_part = hold_out(
                train_arrays, settings.validation_fraction, settings.seed, train_present
            )
        else:
            validation_part = None
        stages = build_schedule(settings.schedule, self.domain_names, settings.epochs, settings.freeze_phases)
        validation_data = None if validation_part is None else TensorData.from_numpy(*validation_part, self.device)
        with cpu_threads(thread_count(self.module, settings.threads)):
            self.history = fit_module(
                self.module,
                stages,
                TensorData.from_numpy(train_arrays, train_present, self.device),
                validation_data,
                settings,
                progress,
                checkpoint,
                resume,
            )
        encodings = self._encode_masked(train_arrays, train_present)
        self.latent_box = (encodings.min(axis=0), encodings.max(axis=0))
        return self.history

    def _trained_length(self, arrays: dict[str, np.ndarray], present: Masks | None, validation: Any) -> TrainConfig:
        """The training settings, with the epoch count chosen by k-fold CV when the hold-out would be under 30
        samples (joint schedule; training/epoch_search.py says why)."""
        settings = self.config.train
        n = len(next(iter(arrays.values())))
        if (
            validation is not None
            or settings.validation_fraction == 0
            or validation_size(n, settings.validation_fraction)
        ):
            return settings
        if names.canonical(settings.schedule) != "joint" or n < 2 * CV_FOLDS:
            return settings
        fold_config = dataclasses.replace(self.config, train=dataclasses.replace(settings, progress=False))

        def validation_losses(kept: np.ndarray, held_out: np.ndarray) -> list[float]:
            def rows(index: np.ndarray) -> Split:
                masks = None if present is None else {name: mask[index] for name, mask in present.items()}
                return Split({name: values[index] for name, values in arrays.items()}, present=masks)

            fold = SharedLatentVAE(self.input_sizes, fold_config)
            return [r.validation_loss for r in fold.fit(rows(kept), validation=rows(held_out)).records]

        self.epoch_search = search_epochs(n, settings.seed, validation_losses)
        epochs = self.epoch_search.epochs
        return dataclasses.replace(settings, epochs=epochs, patience=epochs + 1)

    def _choose_auto_settings(self, arrays: dict[str, np.ndarray], present: Masks | None) -> None:
        """Replace "auto" likelihoods and preprocessing by what the training data suggest, and rebuild the module."""
        rows = {name: present_rows(values, present, name) for name, values in arrays.items()}
        resolved, chosen = resolve_auto(self.config, rows)
        if chosen:
            self.config, self.auto_choices = resolved, chosen
            self._build()
        for name, values in rows.items():
            likelihood = self.config.model.likelihood_for(name)
            warning = likelihood in names.COUNT_LIKELIHOODS and count_likelihood_warning(values, name, likelihood)
            if warning:
                warnings.warn(warning, UserWarning, stacklevel=3)

    def _fit_preprocessing(self, arrays: dict[str, np.ndarray], present: Masks | None) -> dict[str, np.ndarray]:
        """Fit preprocessors, check the data against each likelihood and set library sizes on present rows."""
        methods = {name: self.config.model.preprocessing_for(name) for name in arrays}
        self.preprocessors = fit_preprocessors(methods, arrays, present)
        arrays = transform_all(self.preprocessors, arrays, present)
        rows = {name: present_rows(values, present, name) for name, values in arrays.items()}
        for name, values in rows.items():
            self.module.likelihoods[name].check_data(values, name)
        self.module.set_library_sizes({name: torch.from_numpy(values) for name, values in rows.items()})
        return arrays

    def predict(
        self, inputs: Mapping[str, ArrayLike], targets: Sequence[str] = (), *, partial: bool = True
    ) -> Prediction:
        """Encode `inputs` (any subset of domains, same samples) jointly and decode each of `targets`.

        Parameters
        ----------
        inputs
            An array per source domain (samples x features), rows aligned across domains.
        targets
            Domains to decode from the joint latent means; none gives only the latent means.
        partial
            Read all-NaN rows as samples absent from that domain (only present domains are combined); with
            False every value must be finite.
        """
        if kind_of(inputs):
            raise SharedLatentError("AnnData / MuData input: use get_latent (latents) or translate (an AnnData)")
        for target in targets:
            self._check_domain(target)
        warn_unless_counts({name: self.config.model.likelihood_for(name) for name in inputs}, inputs)
        if partial:
            arrays, present = check_partial(inputs, "encoder input", self.input_sizes, allow_subset=True)
        else:
            arrays, present = {name: self._matrix(values, name) for name, values in inputs.items()}, None
        prepared = transform_all(self.preprocessors, arrays, present)
        latent = self._encode_masked(prepared, present)
        decoded = {}
        for target in targets:
            # Reconstructing a count domain from itself keeps each sample's observed library size.
            own = present is None and target in prepared and self.module.uses_observed_library(target)
            decoded[target] = self._decode(latent, target, prepared[target] if own else None)
        template = next(iter(inputs.values()))
        return Prediction(_like(template, latent), {name: _like(template, values) for name, values in decoded.items()})

    def encode(self, x: ArrayLike, domain: str) -> ArrayLike:
        """Latent means of samples of one domain.

        Parameters
        ----------
        x
            Samples x features of `domain`.
        domain
            The domain `x` belongs to.
        """
        return self.encode_joint({domain: x})

    def latent_distribution(self, x: ArrayLike, domain: str) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-sigmas of samples of one domain (for KL per latent dimension, active units)."""
        self._check_domain(domain)
        prepared = self.preprocessors[domain].transform(self._matrix(x, domain)).astype(np.float32)
        with torch.no_grad():
            latent = self.module.latent({domain: torch.from_numpy(prepared).to(self.device)})
        return latent.mean.cpu().numpy(), latent.log_sigma.cpu().numpy()

    def encode_joint(self, inputs: Mapping[str, ArrayLike]) -> ArrayLike:
        """Latent means from any subset of domains measured on the same samples.

        Parameters
        ----------
        inputs
            An array per domain; an all-NaN row marks a sample that lacks that domain, and only its present
            domains are combined.
        """
        return self.predict(inputs).latent

    def decode(self, z: ArrayLike) -> dict[str, ArrayLike]:
        """Point reconstructions of every domain from latent points.

        Parameters
        ----------
        z
            Latent points, samples x latent_size.
        """
        latent = as_matrix(z, "latent points", features=self.module.latent_size, promote_vector=True)
        return {name: _like(z, self._decode(latent, name)) for name in self.domain_names}

    def reconstruct(self, x: ArrayLike, domain: str) -> ArrayLike:
        """Encode one domain and decode it again.

        Parameters
        ----------
        x
            Samples x features of `domain`.
        domain
            The domain to encode and decode.
        """
        return self.translate(x, domain, domain)

    def translate(self, x: Any, source: str, target: str, *, library_size: Any = None, **options: Any) -> Any:
        """Encode samples of `source` and decode them as `target`.

        Parameters
        ----------
        x
            Samples x features of `source` (finite values); or an AnnData / MuData, which gives an AnnData
            (scverse/translation.py; options: layer, obsm, model_name).
        source, target
            Domain names.
        library_size
            A count target's total count per sample (or one for all) instead of the training mean.
        """
        self._check_domain(target)
        self._check_domain(source)
        if kind_of(x):
            return translate_object(self, x, source, target, library_size=library_size, **options)
        if options:
            raise SharedLatentError(f"{', '.join(options)} apply to AnnData / MuData input, not to arrays")
        if library_size is None:
            return self.predict({source: x}, (target,), partial=False).decoded[target]
        latent = self.predict({source: x}, partial=False).latent
        library = library_column(
            library_size, len(latent), target, self.config.model.likelihood_for(target), self._library_mode(target)
        )
        return _like(x, self._decode(np.asarray(latent), target, library=library))

    def get_latent(self, data: Any, **options: Any) -> Any:
        """Latent means of AnnData / MuData cells as a frame aligned to obs_names (joint over the domains a cell
        has); options: domain (for a lone AnnData), layer, obsm. See scverse/latent.py."""
        return scverse_latent.get_latent(self, data, **options)

    def write_latent(self, data: Any, key: str = scverse_latent.LATENT_KEY, **options: Any) -> Any:
        """Write get_latent's coordinates into `data.obsm[key]` (a MuData's own obsm) and return them."""
        return scverse_latent.write_latent(self, data, key, **options)

    def cycle(self, x: ArrayLike, source: str, target: str) -> ArrayLike:
        """Translate to `target` and back to `source`.

        Parameters
        ----------
        x
            Samples x features of `source`.
        source, target
            Domain names.
        """
        self._check_domain(source)
        there = self.translate(self._matrix(x, source), source, target)
        return _like(x, self.translate(there, target, source))

    def sample_latent_points(self, n: int, method: str = "box", seed: int | None = None) -> np.ndarray:
        """`n` latent points (float32): "box" draws uniformly inside the per-dimension min/max of the training
        encodings (the original), "prior" draws from N(0, I).

        Parameters
        ----------
        n
            Number of points, at least 1.
        method
            One of names.GENERATION_METHODS.
        seed
            Random seed; None uses train.seed.
        """
        if n < 1:
            raise SharedLatentError(f"number of samples to generate must be at least 1, got {n}")
        if method not in names.GENERATION_METHODS:
            raise SharedLatentError(
                f"unknown generation method {method!r}; choose one of {', '.join(names.GENERATION_METHODS)}"
            )
        rng = np.random.default_rng(self.config.train.seed if seed is None else seed)
        if method == "prior":
            return rng.standard_normal((n, self.module.latent_size)).astype(np.float32)
        if self.latent_box is None:
            raise SharedLatentError("generate(method='box') needs a trained model (the latent box comes from fit)")
        low, high = self.latent_box
        return rng.uniform(low, high, size=(n, len(low))).astype(np.float32)

    def generate(self, n: int, method: str = "box", seed: int | None = None) -> dict[str, np.ndarray]:
        """New paired samples decoded from `sample_latent_points(n, method, seed)`.

        Parameters
        ----------
        n
            Number of samples, at least 1.
        method
            "box" (inside the training encodings' min/max, the original) or "prior" (N(0, I)).
        seed
            Random seed; None uses train.seed.
        """
        return self.decode(self.sample_latent_points(n, method, seed))

    def save(self, path: str | Path) -> None:
        """Write weights plus everything needed to rebuild the model to one safetensors file.

        Parameters
        ----------
        path
            The file to write.
        """
        metadata: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "input_sizes": self.input_sizes,
            "latent_box": None if self.latent_box is None else [a.tolist() for a in self.latent_box],
            "preprocessors": {name: p.to_dict() for name, p in self.preprocessors.items()},
            "registration": None if self.registration is None else self.registration.to_dict(),
        }
        save_weights(path, self.module.state_dict(), metadata)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> SharedLatentVAE:
        """Rebuild a model written by save().

        Parameters
        ----------
        path
            A file written by `save`.
        device
            Where to put the model: "cpu", "cuda", "mps" or "auto".
        """
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
        model.registration = Registration.from_dict(metadata.get("registration"))
        model.loaded_from = str(path)
        if metadata.get("latent_box") is not None:
            low, high = metadata["latent_box"]
            model.latent_box = (np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32))
        return model

    def _matrix(self, values: ArrayLike, domain: str) -> np.ndarray:
        """A finite float32 array of `domain`'s width (a single sample may be a vector)."""
        what = f"input for domain {domain!r}"
        return as_matrix(values, what, features=self.input_sizes[domain], promote_vector=True)

    def _decode(
        self, latent: np.ndarray, domain: str, observed: np.ndarray | None = None, library: np.ndarray | None = None
    ) -> np.ndarray:
        """Point reconstructions of `domain` in the user's units (`observed`: that domain's preprocessed input,
        for its library size; `library`: a library size column given instead)."""
        arrays = {"z": latent, **({} if observed is None else {"x": observed})}
        arrays.update({} if library is None else {"library": library})

        def reconstruct(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            library = batch.get("library")
            if "x" in batch:
                library = self.module.observed_library(domain, batch["x"])
            return self.module.reconstruction(domain, self.module.decode(batch["z"], [domain])[domain], library)

        return self.preprocessors[domain].inverse_transform(map_chunks(self.module, arrays, reconstruct, self.device))

    def _encode_masked(self, arrays: Mapping[str, np.ndarray], present: Masks | None) -> np.ndarray:
        """Latent means of preprocessed `arrays`, combining only the present domains of each row."""
        if present is None:
            return map_chunks(self.module, arrays, lambda batch: self.module.latent(batch).mean, self.device)
        domains = list(arrays)
        stacked = {**arrays, **{f"present:{name}": present[name].astype(np.float32) for name in domains}}

        def encode(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            masks = {name: batch[f"present:{name}"] for name in domains}
            return self.module.latent({name: batch[name] for name in domains}, masks).mean

        return map_chunks(self.module, stacked, encode, self.device)

    def _library_mode(self, domain: str) -> str | None:
        return getattr(self.module.likelihoods[domain], "library", None)

    def _check_domain(self, domain: str) -> None:
        if domain not in self.input_sizes:
            raise SharedLatentError(f"unknown domain {domain!r}; this model has {', '.join(self.domain_names)}")


def _like(template: Any, values: np.ndarray) -> ArrayLike:
    """Return torch when the caller passed torch, numpy otherwise."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(values).to(template.device)
    return values
