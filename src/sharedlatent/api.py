"""The object a user calls: fit, encode, predict (translate, reconstruct), cycle, generate, save and load.

Numpy (or torch) in, the same kind out. The torch math lives in nn/, the loop and device policy in training/,
input validation in arrays.py and datasets/partial.py; this class wires them together and does no math."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sharedlatent.arrays import as_matrix, checked_input_sizes, dense_if_sparse
from sharedlatent.auto_settings import AutoChoice, provisional
from sharedlatent.config import RunConfig
from sharedlatent.continuous_covariates import CovariateScaler, covariate_rows, joined
from sharedlatent.count_inputs import CountInputWarning, library_column, warn_unless_counts
from sharedlatent.covariates import BatchEncoder, decoder_rows, encoder_rows, source_labels
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.partial import PresenceMasks, check_partial
from sharedlatent.datasets.streaming import StreamedSplit
from sharedlatent.errors import SharedLatentError
from sharedlatent.fitting_in_memory import fit_in_memory
from sharedlatent.fitting_streamed import fit_from_disk
from sharedlatent.frames import check_frame_rows
from sharedlatent.generation import latent_points
from sharedlatent.inference import decode_points, encode_means
from sharedlatent.library_prediction import LibraryPredictor
from sharedlatent.model_io import load_model, save_model
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.preprocessing import (
    Preprocessor,
    make_preprocessor,
    transform_all,
)
from sharedlatent.scverse import latent as scverse_latent
from sharedlatent.scverse.objects import kind_of, register, training_arrays
from sharedlatent.scverse.obs_covariates import register_covariate_keys, training_covariates
from sharedlatent.scverse.registration import Registration
from sharedlatent.scverse.translation import translate_object
from sharedlatent.training.checkpoint import Checkpoint
from sharedlatent.training.epoch_search import EpochSearch
from sharedlatent.training.loop import History
from sharedlatent.training.runtime import INFERENCE_CHUNK, resolve_device

ArrayLike = np.ndarray | torch.Tensor
Masks = PresenceMasks  # version 0.1 name
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
        self.input_sizes = checked_input_sizes(input_sizes)
        if config is not None and not isinstance(config, RunConfig):
            raise SharedLatentError(
                f"config must be a RunConfig, not {type(config).__name__} (RunConfig.from_dict reads a dict)"
            )
        # A copy, as scikit-learn estimators keep theirs: the caller may edit or reuse the object, and fit writes
        # its choices into the model's own config. `given_config` is what every fit starts from.
        self.given_config = copy.deepcopy(config) if config is not None else RunConfig()
        self.given_config.validate(self.input_sizes)  # deprecated names replaced (and warned about) once, here
        self.registration: Registration | None = None  # where AnnData / MuData input is read (scverse/)
        # batch labels fixed before any fit (the epoch search gives each fold model the whole data's), else None
        self.given_batch_encoder: BatchEncoder | None = None
        self.start_over()

    def start_over(self) -> None:
        """Forget everything fit learned: the config as given, a fresh module from train.seed, no history."""
        self.config = copy.deepcopy(self.given_config)
        self.batch_encoder: BatchEncoder | None = self.given_batch_encoder  # the batch labels fit saw (covariates.py)
        self.device = resolve_device(self.config.train.device)
        self.latent_box: tuple[np.ndarray, np.ndarray] | None = None
        self.history: History | None = None
        self.auto_choices: dict[str, AutoChoice] = {}  # what fit chose for "auto" likelihoods and preprocessing
        self.epoch_search: EpochSearch | None = None  # set by fit when a tiny hold-out gave way to k-fold CV
        self.covariate_scaler: CovariateScaler | None = None  # continuous covariates' names, mean, std (fit)
        # count domains' totals predicted from the latent where none is observed (library_prediction.py; fit)
        self.library_predictors: dict[str, LibraryPredictor] = {}
        self.loaded_from: str | None = None
        self.build_module()

    @property
    def is_trained(self) -> bool:
        """Whether fit has run or the model was loaded from a file."""
        return self.history is not None or self.loaded_from is not None

    def _check_trained(self, call: str) -> None:
        if not self.is_trained:
            raise SharedLatentError(
                f"{call}() needs a trained model: call fit() first (or SharedLatentVAE.load a saved one)"
            )

    @classmethod
    def from_data(
        cls,
        data: Any,
        config: RunConfig | None = None,
        *,
        layer: str | Mapping[str, str] | None = None,
        obsm: str | Mapping[str, str] | None = None,
        modalities: Mapping[str, str] | None = None,
        batch_key: str | None = None,
        continuous_covariate_keys: Sequence[str] | None = None,
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
        batch_key
            The obs column of each cell's batch label (scVI's batch_key): fit, get_latent and translate read it.
        continuous_covariate_keys
            Numeric obs columns (e.g. percent mitochondrial reads) that fit, get_latent and translate read as
            continuous covariates (scVI's continuous_covariate_keys).
        """
        registration = register(data, list(modalities or []) or None, layer, obsm, modalities, batch_key)
        register_covariate_keys(registration, data, continuous_covariate_keys)
        model = cls(registration.input_sizes, config)
        model.registration = registration
        return model

    def build_module(self) -> None:
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
        train: Mapping[str, ArrayLike] | Split | StreamedSplit,
        validation: Mapping[str, ArrayLike] | Split | None = None,
        progress: bool | None = None,
        present: Mapping[str, ArrayLike] | None = None,
        checkpoint: str | Path | Checkpoint | None = None,
        resume: bool = False,
        batch: Any = None,
        covariates: Any = None,
    ) -> History:
        """Train with the configured schedule; without `validation`, hold out train.validation_fraction.

        Parameters
        ----------
        train
            An array per domain (samples x features, rows aligned across domains), a Split, or a StreamedSplit
            (datasets/streaming.py: files read batch by batch, never whole).
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
        batch
            A batch label per sample (AnnData / MuData: read from the registered batch_key): one-hot into every
            decoder (and encoder with model.batch_in_encoders), so the latent need not hold the batch.
        covariates
            Continuous covariates, samples x k (an array, a DataFrame or a mapping name -> values; AnnData /
            MuData: the registered continuous_covariate_keys), standardised and joined after the batch one-hot.

        Each call starts over, as scikit-learn's fit does: from the config as given (its "auto" settings chosen
        anew from this data; edits to `model.config` before the first fit count as given) and a fresh start from
        train.seed, so a second fit equals a first; a trained or loaded model is retrained, not fine-tuned. A fit
        that fails leaves the model as it was. To continue an interrupted fit, use `checkpoint` and `resume`.
        """
        earlier = dict(vars(self))  # start_over replaces these objects, never changes them: a failed fit puts them back
        if not self.is_trained:  # settings edited on model.config before the first fit are the ones asked for
            self.given_config = copy.deepcopy(self.config)
            self.given_config.validate(self.input_sizes)
        self.start_over()
        try:
            return self._fit(train, validation, progress, present, checkpoint, resume, batch, covariates)
        except BaseException:
            vars(self).clear()
            vars(self).update(earlier)
            raise

    def _fit(
        self,
        train: Any,
        validation: Any,
        progress: bool | None,
        present: Mapping[str, ArrayLike] | None,
        checkpoint: str | Path | Checkpoint | None,
        resume: bool,
        batch: Any,
        covariates: Any,
    ) -> History:
        """fit's work, on a model just started over."""
        if isinstance(train, StreamedSplit):  # rows stay on disk, read batch by batch
            if covariates is not None:
                raise SharedLatentError("covariates are not read from disk yet; load the data in memory to fit them")
            return fit_from_disk(self, train, validation, progress, checkpoint, resume)
        if kind_of(train):  # AnnData, MuData or sparse: cells paired by obs_names (scverse/objects.py)
            covariates = training_covariates(self, train) if covariates is None else covariates
            train, present, batch = training_arrays(self, train, present, batch)
        if isinstance(train, Mapping):
            check_frame_rows(train, "fit")
        batch = train.batches if batch is None and isinstance(train, Split) else batch
        covariates = train.covariates if covariates is None and isinstance(train, Split) else covariates
        return fit_in_memory(
            self,
            train,
            validation,
            present=present,
            batch=batch,
            covariates=covariates,
            progress=progress,
            checkpoint=checkpoint,
            resume=resume,
        )

    def predict(
        self,
        inputs: Mapping[str, ArrayLike],
        targets: Sequence[str] = (),
        *,
        partial: bool = True,
        batch: Any = None,
        transform_batch: Any = None,
        covariates: Any = None,
        library_size: Any = None,
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
        batch, transform_batch
            For a model fitted with batch labels: the samples' batch (one label, or one per sample), and the batch
            to decode them as (default `batch`): "as if measured in batch B". With `transform_batch` the samples'
            own batch is neither needed nor checked, unless the encoders read it (model.batch_in_encoders).
        covariates
            For a model fitted with continuous covariates: the samples' values (one row per sample, or one row for
            all), needed to decode (and to encode with batch_in_encoders).
        library_size
            A count target's total count per sample (or one for all) instead of the training mean (or, decoding a
            domain from itself, its observed total).
        """
        self._check_trained("predict")
        inputs = {name: dense_if_sparse(values) for name, values in inputs.items()}  # README: sparse in, numpy out
        if kind_of(inputs):
            raise SharedLatentError("AnnData / MuData input: use get_latent (latents) or translate (an AnnData)")
        check_frame_rows(inputs, "predict")
        batch = source_labels(self, batch, transform_batch)
        for target in targets:
            self._check_domain(target)
        warn_unless_counts({name: self.config.model.likelihood_for(name) for name in inputs}, inputs)
        if partial:
            arrays, present = check_partial(inputs, "encoder input", self.input_sizes, allow_subset=True)
        else:
            arrays, present = {name: self._matrix(values, name) for name, values in inputs.items()}, None
        prepared = transform_all(self.preprocessors, arrays, present)
        n_samples = len(next(iter(prepared.values())))
        needed = bool(targets) or self.module.batch_in_encoders
        continuous = covariate_rows(self, covariates, n_samples, "predict", needed)
        encoded_as = joined(encoder_rows(self, batch, n_samples, "predict"), continuous)
        latent = encode_means(self.module, prepared, present, self.device, encoded_as)
        decoded_as = None
        if targets:
            decoded_as = joined(decoder_rows(self, batch, transform_batch, n_samples, "predict"), continuous)
        decoded = {}
        for target in targets:
            # Reconstructing a count domain from itself keeps each sample's observed library size.
            own = present is None and target in prepared and self.module.uses_observed_library(target)
            library = None if library_size is None else self._library(library_size, n_samples, target)
            observed = prepared[target] if own and library is None else None
            decoded[target] = self._decode(latent, target, observed, library, covariates=decoded_as)
        template = next(iter(inputs.values()))
        return Prediction(_like(template, latent), {name: _like(template, values) for name, values in decoded.items()})

    def encode(self, x: ArrayLike, domain: str, *, batch: Any = None, covariates: Any = None) -> ArrayLike:
        """Latent means of samples of one domain.

        Parameters
        ----------
        x
            Samples x features of `domain`.
        domain
            The domain `x` belongs to.
        batch
            The samples' batch labels; needed only by a model with batch_in_encoders.
        covariates
            The samples' continuous covariates; needed only by a model with batch_in_encoders.
        """
        self._check_trained("encode")
        return self.encode_joint({domain: x}, batch=batch, covariates=covariates)

    def latent_distribution(
        self, x: ArrayLike, domain: str, *, batch: Any = None, covariates: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-sigmas of samples of one domain (for KL per latent dimension, active units)."""
        self._check_trained("latent_distribution")
        self._check_domain(domain)
        prepared = self.preprocessors[domain].transform(self._matrix(x, domain)).astype(np.float32)
        continuous = covariate_rows(
            self, covariates, len(prepared), "latent_distribution", self.module.batch_in_encoders
        )
        rows = joined(encoder_rows(self, batch, len(prepared), "latent_distribution"), continuous)
        with torch.no_grad():
            covariates = None if rows is None else torch.from_numpy(rows).to(self.device)
            latent = self.module.latent({domain: torch.from_numpy(prepared).to(self.device)}, covariates=covariates)
        return latent.mean.cpu().numpy(), latent.log_sigma.cpu().numpy()

    def encode_joint(self, inputs: Mapping[str, ArrayLike], *, batch: Any = None, covariates: Any = None) -> ArrayLike:
        """Latent means from any subset of domains measured on the same samples.

        Parameters
        ----------
        inputs
            An array per domain; an all-NaN row marks a sample that lacks that domain, and only its present
            domains are combined.
        batch
            The samples' batch labels; needed only by a model with batch_in_encoders.
        covariates
            The samples' continuous covariates; needed only by a model with batch_in_encoders.
        """
        self._check_trained("encode_joint")
        return self.predict(inputs, batch=batch, covariates=covariates).latent

    def decode(self, z: ArrayLike, *, transform_batch: Any = None, covariates: Any = None) -> dict[str, ArrayLike]:
        """Point reconstructions of every domain from latent points.

        Parameters
        ----------
        z
            Latent points, samples x latent_size.
        transform_batch
            The batch to decode as (one label, or one per point), for a model fitted with batch labels.
        covariates
            The continuous covariates to decode with (one row per point, or one for all), for a model fitted
            with them.
        """
        self._check_trained("decode")
        latent = as_matrix(z, "latent points", features=self.module.latent_size, promote_vector=True)
        continuous = covariate_rows(self, covariates, len(latent), "decode", needed=True)
        rows = joined(decoder_rows(self, None, transform_batch, len(latent), "decode"), continuous)
        return {name: _like(z, self._decode(latent, name, covariates=rows)) for name in self.domain_names}

    def reconstruct(self, x: ArrayLike, domain: str, *, batch: Any = None, covariates: Any = None) -> ArrayLike:
        """Encode one domain and decode it again.

        Parameters
        ----------
        x
            Samples x features of `domain`.
        domain
            The domain to encode and decode.
        batch
            The samples' batch labels, for a model fitted with them (decoded in the same batch).
        covariates
            The samples' continuous covariates, for a model fitted with them.
        """
        return self.translate(x, domain, domain, batch=batch, covariates=covariates)

    def translate(
        self,
        x: Any,
        source: str,
        target: str,
        *,
        library_size: Any = None,
        batch: Any = None,
        transform_batch: Any = None,
        covariates: Any = None,
        **options: Any,
    ) -> Any:
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
        batch, transform_batch
            As in predict; AnnData / MuData input reads `batch` from the registered batch_key, unless
            `transform_batch` is given and the encoders ignore the batch (then no source labels are read).
        covariates
            As in predict; AnnData / MuData input reads them from the registered continuous_covariate_keys.
        """
        self._check_trained("translate")
        self._check_domain(target)
        self._check_domain(source)
        batch = source_labels(self, batch, transform_batch)
        labels = {"batch": batch, "transform_batch": transform_batch, "covariates": covariates}
        if kind_of(x):
            return translate_object(self, x, source, target, library_size=library_size, **labels, **options)
        if options:
            raise SharedLatentError(f"{', '.join(options)} apply to AnnData / MuData input, not to arrays")
        return self.predict({source: x}, (target,), partial=False, library_size=library_size, **labels).decoded[target]

    def get_latent(self, data: Any, **options: Any) -> Any:
        """Latent means of AnnData / MuData cells as a frame aligned to obs_names (joint over the domains a cell
        has); options: domain (for a lone AnnData), layer, obsm. See scverse/latent.py."""
        self._check_trained("get_latent")
        return scverse_latent.get_latent(self, data, **options)

    def write_latent(self, data: Any, key: str = scverse_latent.LATENT_KEY, **options: Any) -> Any:
        """Write get_latent's coordinates into `data.obsm[key]` (a MuData's own obsm) and return them."""
        return scverse_latent.write_latent(self, data, key, **options)

    def cycle(
        self, x: Any, source: str, target: str, *, batch: Any = None, covariates: Any = None, **options: Any
    ) -> Any:
        """Translate to `target` and back to `source`.

        Parameters
        ----------
        x
            Samples x features of `source`; or an AnnData / MuData, read where the model reads `source` (its
            registered layer or obsm), which gives an AnnData as translate does (options: layer, obsm, model_name).
        source, target
            Domain names.
        batch
            The samples' batch labels, for a model fitted with them (both ways stay in that batch).
        covariates
            The samples' continuous covariates, for a model fitted with them (used both ways).
        """
        self._check_trained("cycle")
        self._check_domain(source)
        self._check_domain(target)
        if kind_of(x):
            return translate_object(self, x, source, target, batch=batch, covariates=covariates, cycle=True, **options)
        if options:
            raise SharedLatentError(f"{', '.join(options)} apply to AnnData / MuData input, not to arrays")
        there = self.translate(self._matrix(x, source), source, target, batch=batch, covariates=covariates)
        with warnings.catch_warnings():  # the way back reads the model's own (non-integer) count means
            warnings.simplefilter("ignore", CountInputWarning)
            return _like(x, self.translate(there, target, source, batch=batch, covariates=covariates))

    def sample_latent_points(self, n: int, method: str = "box", seed: int | None = None) -> np.ndarray:
        """`n` latent points: "box" inside the training encodings' min/max (the original), "prior" from N(0, I);
        seed None uses train.seed."""
        seed = self.config.train.seed if seed is None else seed
        return latent_points(n, method, seed, self.module.latent_size, self.latent_box)

    def generate(
        self,
        n: int,
        method: str = "box",
        seed: int | None = None,
        *,
        transform_batch: Any = None,
        covariates: Any = None,
    ) -> dict[str, np.ndarray]:
        """New paired samples decoded from `sample_latent_points(n, method, seed)`.

        Parameters
        ----------
        n
            Number of samples, at least 1.
        method
            "box" (inside the training encodings' min/max, the original) or "prior" (N(0, I)).
        seed
            Random seed; None uses train.seed.
        transform_batch
            The batch to generate samples of, for a model fitted with batch labels.
        covariates
            The continuous covariates to generate samples with (one row for all, or `n` rows), for a model
            fitted with them.
        """
        self._check_trained("generate")
        points = self.sample_latent_points(n, method, seed)
        return self.decode(points, transform_batch=transform_batch, covariates=covariates)

    def save(self, path: str | Path) -> None:
        """Write weights plus everything needed to rebuild the model to one safetensors file at `path`."""
        self._check_trained("save")  # a loaded file counts as trained: an untrained one must not become one
        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> SharedLatentVAE:
        """Rebuild a model written by save(), onto `device` ("cpu", "cuda", "mps" or "auto"); the file is checked
        before anything is built (model_file.py: shapes, non-finite values, unknown keys)."""
        return load_model(cls, path, device)

    def _matrix(self, values: ArrayLike, domain: str) -> np.ndarray:
        """A finite float32 array of `domain`'s width (a single sample may be a vector)."""
        what = f"input for domain {domain!r}"
        return as_matrix(values, what, features=self.input_sizes[domain], promote_vector=True)

    def _decode(
        self,
        latent: np.ndarray,
        domain: str,
        observed: np.ndarray | None = None,
        library: np.ndarray | None = None,
        covariates: np.ndarray | None = None,
    ) -> np.ndarray:
        """`domain`'s point reconstructions of `latent`, decoded with the `covariates` rows (batch one-hot, then
        standardised continuous covariates) of a model fitted with them."""
        preprocessor = self.preprocessors[domain]
        if observed is None and library is None and domain in self.library_predictors:
            library = self.library_predictors[domain].predict(latent, covariates)  # no total observed: the latent's
        return decode_points(self.module, preprocessor, latent, domain, self.device, observed, library, covariates)

    def _library(self, library_size: Any, n_samples: int, domain: str) -> np.ndarray:
        """The user's library sizes as a column for a count `domain` (count_inputs.library_column checks them)."""
        mode = getattr(self.module.likelihoods[domain], "library", None)
        return library_column(library_size, n_samples, domain, self.config.model.likelihood_for(domain), mode)

    def _check_domain(self, domain: str) -> None:
        if domain not in self.input_sizes:
            raise SharedLatentError(f"unknown domain {domain!r}; this model has {', '.join(self.domain_names)}")


def _like(template: Any, values: np.ndarray) -> ArrayLike:
    """Return torch when the caller passed torch, numpy otherwise."""
    if isinstance(template, torch.Tensor):
        return torch.from_numpy(values).to(template.device)
    return values
