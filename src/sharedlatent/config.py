"""Every knob of a run in one place: dataclasses with defaults that run, mapped key by key onto TOML."""

from __future__ import annotations

import dataclasses
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharedlatent import names
from sharedlatent.config_fields import build_dataclass, check_fields, drop_none, require
from sharedlatent.errors import SharedLatentError
from sharedlatent.names import (
    COUNT_LIKELIHOODS,
    SHARED_GROUP,
    Device,
    JointPosterior,
    KlFormula,
    KlReductionSetting,
    LibraryMode,
    LikelihoodSetting,
    Precision,
    PreprocessingSetting,
    Schedule,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Aliases for code that imports the choices from config; names.py declares them.
SCHEDULES, KL_FORMULAS, JOINT_POSTERIORS = names.SCHEDULES, names.KL_FORMULAS, names.JOINT_POSTERIORS
LIKELIHOODS, LIBRARY_MODES, PREPROCESSINGS, DEVICES = (
    names.LIKELIHOODS,
    names.LIBRARY_MODES,
    names.PREPROCESSINGS,
    names.DEVICES,
)

# Field metadata that check_fields reads: numeric bounds, and min_items for lists.
AT_LEAST_1 = {"min": 1}
# A layer or latent width: 2^16 is far beyond any model here, and keeps a typo (1000000) from asking for terabytes
LAYER_WIDTH = {"min": 1, "max": 1 << 16}
SEED_RANGE = {"min": 0, "max": (1 << 32) - 1}  # what numpy, torch and scikit-learn all accept
NON_NEGATIVE = {"min": 0}
POSITIVE = {"min_exclusive": 0}
# Input-noise std on standardised features when nothing sets one: 0.2 of each feature's training std. With it,
# benchmarks/settings_sweep.py (seeds 0-2, 0-4 for Linnerud) gave lower translation error on MNIST halves,
# serology and Linnerud, and the same on the omics task; see the README's real-data section.
AUTO_NOISE = 0.2
# Decoupled (AdamW) weight decay when nothing sets one and a domain is standardised; none otherwise. On the
# real-data tasks (benchmarks/settings_sweep.py, seeds 0-2) 0.3 lowered the translation error of the omics and MNIST
# tasks both ways and of the digits halves, kept serology and Linnerud where they were, and beat 0.1 and 1.0 on the
# omics task; on the digits task (values in [0, 1], no standardised domain) it raised the error by 42-45%.
AUTO_WEIGHT_DECAY = 0.3


@dataclass(slots=True)
class DomainConfig:
    """How one named domain is modelled; unset fields fall back to the model-wide defaults."""

    # encoder widths from input to shared part; the decoder mirrors them
    private_widths: list[int] | None = field(default=None, metadata=LAYER_WIDTH)
    # sigmoid_mse (the original: sigmoid + squared error), gaussian (learned per-feature variance), gaussian_fixed,
    # bernoulli (logits; values in [0, 1]), negative_binomial or zinb (raw counts; the encoder sees log1p(counts))
    # "auto" (the default): chosen from the training data when the run starts and written out explicitly
    likelihood: LikelihoodSetting = "auto"
    preprocessing: PreprocessingSetting = "auto"  # fitted on the training split, inverted on outputs
    input_size: int | None = None  # taken from the data; when set it must match
    variance: float | None = field(default=None, metadata=POSITIVE)  # gaussian_fixed only: fixed variance (unset: 1)
    # negative_binomial / zinb only: "observed" (each sample's total count; unset) or "learned" (decoded from z)
    library: LibraryMode | None = None
    # std of the Gaussian noise on this domain's (preprocessed) encoder inputs; unset: train.noise_level's rule
    noise_level: float | None = field(default=None, metadata=NON_NEGATIVE)

    def likelihood_options(self) -> dict[str, Any]:
        """The keyword options this domain's likelihood is built with."""
        if self.likelihood == "gaussian_fixed":
            return {"variance": 1.0 if self.variance is None else self.variance}
        if self.likelihood in COUNT_LIKELIHOODS:
            return {"library": self.library or "observed"}
        return {}

    def validate(self, where: str) -> None:
        """Raise SharedLatentError for impossible values; `where` names the domain's table."""
        require(
            self.variance is None or self.likelihood == "gaussian_fixed",
            f"{where}.variance applies only to likelihood 'gaussian_fixed', not {self.likelihood!r}",
        )
        require(
            self.library is None or self.likelihood in COUNT_LIKELIHOODS,
            f"{where}.library applies only to likelihoods {COUNT_LIKELIHOODS}, not {self.likelihood!r}",
        )
        check_fields(self, where)
        require(
            self.likelihood not in COUNT_LIKELIHOODS or self.preprocessing in ("none", names.AUTO),
            f"{where}.likelihood {self.likelihood!r} scores raw counts, so preprocessing must be 'none' "
            f"(the encoder already sees log1p(counts)), got {self.preprocessing!r}",
        )


@dataclass(slots=True)
class ModelConfig:
    """The layout: private branches per domain, shared layers, latent size."""

    # first_layer_size, second_layer_size
    private_widths: list[int] = field(default_factory=lambda: [96, 64], metadata={**LAYER_WIDTH, "min_items": 1})
    shared_widths: list[int] = field(default_factory=lambda: [32], metadata=LAYER_WIDTH)  # third_layer_size
    latent_size: int = field(default=16, metadata=LAYER_WIDTH)  # encoded_size
    # how several domains' encodings combine: "mean" (the original's average of branch outputs),
    # "poe" (product of experts with the prior), "moe" (mixture of experts)
    joint_posterior: JointPosterior = "mean"
    # one-hot batch columns joined to every decoder's input (scVI's batch_key); 0: no batch covariate. fit sets it
    # to the number of batch labels when it is 0 and labels are given
    batch_categories: int = field(default=0, metadata=NON_NEGATIVE)
    # also join them to every private encoder's input (scVI's encode_covariates); encoding then needs the labels
    batch_in_encoders: bool = False
    # standardised continuous covariate columns joined after the batch one-hot (scVI's continuous_covariate_keys);
    # 0: none. fit sets it to the number of covariate columns when covariates are given
    continuous_covariates: int = field(default=0, metadata=NON_NEGATIVE)
    domains: dict[str, DomainConfig] = field(default_factory=dict)
    # Gaussian domains' decoder output layers start with zero weights, so the untrained model predicts the training
    # mean of standardised data; false starts them Glorot-uniform like every other layer (before version 0.4).
    # Unset: true unless the KL is summed (train.kl_reduction, "sum" with covariates): a decoder that starts blind to
    # the latent lets the summed KL close it first (batch_mixing.py, seed 1: cell-type accuracy 1.00 fell to 0.68)
    zero_output_layers: bool | None = None

    def widths_for(self, domain: str) -> list[int]:
        """Private widths of `domain` (its own override or the default)."""
        own = self.domains.get(domain)
        return list(own.private_widths) if own and own.private_widths else list(self.private_widths)

    def likelihood_for(self, domain: str) -> str:
        """The likelihood of `domain` (its own or the default)."""
        own = self.domains.get(domain)
        return own.likelihood if own else names.AUTO

    def preprocessing_for(self, domain: str) -> str:
        """The preprocessing of `domain` (its own or "auto")."""
        own = self.domains.get(domain)
        return own.preprocessing if own else names.AUTO

    def noise_for(self, domain: str, train_level: float | None) -> float:
        """The input-noise std of `domain`: its own, else `train_level` (train.noise_level), else AUTO_NOISE on a
        standardised domain and none on the others."""
        own = self.domains.get(domain)
        if own is not None and own.noise_level is not None:
            return own.noise_level
        if train_level is not None:
            return train_level
        return AUTO_NOISE if self.preprocessing_for(domain) == "standardize" else 0.0

    def likelihood_options_for(self, domain: str) -> dict[str, Any]:
        """The keyword options `domain`'s likelihood is built with."""
        own = self.domains.get(domain)
        return own.likelihood_options() if own else {}

    def validate(self, input_sizes: dict[str, int] | None = None) -> None:
        """Raise SharedLatentError for impossible values, also against the data's domains when given."""
        check_fields(self, "model")
        for name, own in self.domains.items():
            own.validate(f"model.domains.{name}")
        if input_sizes is not None:
            self._validate_against(input_sizes)

    def _validate_against(self, input_sizes: dict[str, int]) -> None:
        """The data's domains: at least two, none named like the shared group, sizes and widths that fit."""
        require(len(input_sizes) >= 2, f"a shared latent model needs at least two domains, got {list(input_sizes)}")
        for name in input_sizes:
            require(
                re.fullmatch(names.DOMAIN_NAME_PATTERN, name) is not None,
                f"domain name {name!r} must be 1-64 letters, digits, '_' or '-', starting with a letter or digit",
            )
        require(
            SHARED_GROUP not in input_sizes,
            f"a domain may not be named {SHARED_GROUP!r}: that name is the shared layers' parameter group",
        )
        unknown = sorted(set(self.domains) - set(input_sizes))
        require(not unknown, f"model.domains names {unknown} but the data has domains {list(input_sizes)}")
        for name, size in input_sizes.items():
            own = self.domains.get(name)
            require(
                not own or own.input_size is None or own.input_size == size,
                f"model.domains.{name}.input_size is {own and own.input_size} but the data has {size} features",
            )
        last_widths = {name: self.widths_for(name)[-1] for name in input_sizes}
        require(
            len(set(last_widths.values())) == 1,
            f"the shared layers need every domain's last private width to agree, got {last_widths}",
        )


@dataclass(slots=True)
class TrainConfig:
    """How training runs: schedule, epochs, batches, optimiser, noise, early stopping, seed."""

    schedule: Schedule = "joint"  # "joint": every path every step; "original": the 2018 prototype's phases
    epochs: int = field(default=200, metadata=AT_LEAST_1)  # num_epochs: per phase for "original", total for "joint"
    batch_size: int = field(default=64, metadata=AT_LEAST_1)
    learning_rate: float = field(default=2e-3, metadata=POSITIVE)
    beta: float = field(default=1.0, metadata=NON_NEGATIVE)  # KL weight (batch-mean KL, batch-summed error)
    # raise the KL weight linearly from beta/N to beta over the first N epochs; 0 = off
    beta_warmup_epochs: int = field(default=0, metadata=NON_NEGATIVE)
    cross_weight: float = field(default=1.0, metadata=NON_NEGATIVE)  # a single-domain path decoding another domain
    # weight of cycle-consistency terms (each single-domain path: A -> B -> A, scored on A); 0 = off
    cycle_weight: float = field(default=0.0, metadata=NON_NEGATIVE)
    # "original": the prototype's KL expression (log-sigma where 2 log-sigma belongs), added once per decoded
    # domain as its Keras models did
    kl_formula: KlFormula = "exact"
    # "mean": the KL averaged over the batch, errors summed (the original's: about 1/batch_size of the ELBO's KL);
    # "sum": summed like the errors (the ELBO), which a batch covariate needs to push the batch out of the latent;
    # "auto": "sum" with model.batch_categories, else "mean" (fit writes out the choice)
    kl_reduction: KlReductionSetting = "auto"
    # "original" schedule: each alternating phase trains only its group; false = the original as it ran
    freeze_phases: bool = True
    # each phase keeps its own Adam moments, with one step count for the bias correction shared by all, as the
    # original's four compiled Keras models did; false = one Adam for every phase
    moments_per_phase: bool = False
    # std of Gaussian input noise (denoising; targets stay clean) for every domain without its own noise_level.
    # Unset: AUTO_NOISE on domains preprocessed with "standardize", none on the others (the train summary shows
    # each domain's level; config.toml keeps the chosen preprocessing, so a rerun gets the same levels)
    noise_level: float | None = field(default=None, metadata=NON_NEGATIVE)
    # decoupled weight decay (AdamW: each step shrinks every trained parameter by learning_rate * weight_decay).
    # Unset: AUTO_WEIGHT_DECAY when any domain is preprocessed with "standardize", else none; fit writes the value
    # out, so a saved config without it predates the decay (trained with none)
    weight_decay: float | None = field(default=None, metadata=NON_NEGATIVE)
    patience: int = field(default=20, metadata=AT_LEAST_1)  # early stopping: epochs without improvement
    # "joint" schedule: multiply the learning rate by this when the validation loss stalls
    lr_decay: float = field(default=0.5, metadata={"min_exclusive": 0, "max": 1})
    lr_decay_patience: int = field(default=5, metadata=NON_NEGATIVE)  # epochs without improvement before it decays
    # share of the training split held out for the validation loss
    validation_fraction: float = field(default=0.1, metadata={"min": 0, "max_exclusive": 1})
    # decay per step of an exponential moving average of the weights, which validation, early stopping and the
    # saved model use while Adam steps the raw weights (training/averaging.py); 0 = off: the raw weights (the best
    # epoch's restored, as before version 0.8.0).
    # Unset: an average over about two epochs' steps, at most 200 steps (decay 0.995)
    ema_decay: float | None = field(default=None, metadata={"min": 0, "max_exclusive": 1})
    seed: int = field(default=0, metadata=SEED_RANGE)
    device: Device = "cpu"
    # "bf16": the training forward pass under bfloat16 autocast (faster on recent GPUs; weights and Adam stay float32)
    precision: Precision = "float32"
    # CPU threads; 0 picks 1 for narrow layouts (threads cost more than they gain there), else torch's default
    threads: int = field(default=0, metadata=NON_NEGATIVE)
    progress: bool = True
    # with a checkpoint folder (the CLI's runs), save the training state after every this many epochs; 0 = off
    # (10 costs about 3% of the time on digits, where one save takes ~15 ms and an epoch ~45 ms)
    checkpoint_every: int = field(default=10, metadata=NON_NEGATIVE)
    checkpoint_minutes: float = field(default=10.0, metadata=NON_NEGATIVE)  # also save after this many minutes; 0 = off

    def validate(self) -> None:
        """Raise SharedLatentError for impossible values (deprecated names are replaced by current ones)."""
        check_fields(self, "train")
        if self.weight_decay is not None and self.weight_decay * self.learning_rate >= 1:
            raise SharedLatentError(
                f"train.weight_decay {self.weight_decay:g} times train.learning_rate {self.learning_rate:g} must be"
                " below 1 (each step multiplies the weights by 1 minus it)"
            )


@dataclass(slots=True)
class RunConfig:
    """A whole run: which dataset, the model layout and the training."""

    dataset: str = "digits"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self, input_sizes: dict[str, int] | None = None) -> None:
        """Raise SharedLatentError for impossible values, also against the data's domains when given."""
        validate_run_config(self, input_sizes)

    def noise_levels(self, domains: list[str]) -> dict[str, float]:
        """The input-noise std of each domain (ModelConfig.noise_for with train.noise_level), as training uses them.
        Not written into the config: the rule and the chosen preprocessing it reads are, so a rerun gets the same
        levels and --noise still applies."""
        return {name: self.model.noise_for(name, self.train.noise_level) for name in domains}

    def weight_decay(self, domains: list[str]) -> float:
        """The optimiser's decoupled weight decay: train.weight_decay, else AUTO_WEIGHT_DECAY when one of `domains` is
        standardised, else 0. Before fit chooses the "auto" preprocessing no domain counts as standardised; fit
        writes the value out (fitting.settle_weight_decay)."""
        if self.train.weight_decay is not None:
            return self.train.weight_decay + 0.0  # -0.0 reads as 0
        standardised = any(self.model.preprocessing_for(name) == "standardize" for name in domains)
        return AUTO_WEIGHT_DECAY if standardised else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Nested plain values, unset optional fields left out (TOML has no null)."""
        return drop_none(dataclasses.asdict(self))

    def to_toml(self) -> str:
        """The config as TOML text, which from_toml reads back to an equal config."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """A checked config from nested tables; version 0.1 names (schedule "seed") become current ones, with a
        DeprecationWarning, so models saved by 0.1 still load.

        Parameters
        ----------
        values
            Tables as TOML gives them: "dataset", "model" (with "domains") and "train"; missing keys keep defaults.
        """
        config = build_dataclass(cls, values, "")
        config.validate()
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """A checked config from a TOML file; errors name the file.

        Parameters
        ----------
        path
            The TOML file with optional `dataset`, `[model]` and `[train]` tables.
        """
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise SharedLatentError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SharedLatentError(f"cannot read config file {path}: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise SharedLatentError(f"config file {path} is not valid TOML: {error}") from None
        except RecursionError:
            raise SharedLatentError(f"config file {path} is not a config: nested too deeply") from None
        try:
            return cls.from_dict(values)
        except SharedLatentError as error:
            raise SharedLatentError(f"{path}: {error}") from None


def original_config(**train_overrides: Any) -> RunConfig:
    """The original prototype's settings: its schedule, KL expression, batch 256, Adam at 1e-3 with moments per
    phase, no hold-out.

    The original set its trainable flags on layer outputs, so its alternating phases froze nothing;
    freeze_phases=False reproduces that behaviour and its numbers. Each of its compiled Keras models had its own Adam
    moments (one step count shared): moments_per_phase=True."""
    train = TrainConfig(
        schedule="original",
        epochs=50,
        batch_size=256,
        learning_rate=1e-3,
        kl_formula="original",
        patience=3,
        validation_fraction=0.0,
        freeze_phases=False,
        moments_per_phase=True,
        noise_level=0.0,
        weight_decay=0.0,
        ema_decay=0.0,
    )
    return RunConfig(train=dataclasses.replace(train, **train_overrides))


def seed_config(**train_overrides: Any) -> RunConfig:
    """Deprecated name of original_config (version 0.1)."""
    warnings.warn("seed_config() is deprecated; use original_config()", DeprecationWarning, stacklevel=2)
    return original_config(**train_overrides)


def validate_run_config(config: RunConfig, input_sizes: dict[str, int] | None = None) -> None:
    """Check values a model cannot be built or trained with."""
    config.model.validate(input_sizes)
    config.train.validate()


def apply_overrides(config: RunConfig, overrides: dict[str, str]) -> RunConfig:
    """A copy of `config` with dotted keys (`train.epochs=20`) set from strings, as the CLI passes them."""
    values = config.to_dict()
    for dotted, text in overrides.items():
        parts = dotted.split(".")
        target = values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise SharedLatentError(f"config key {dotted!r} does not name a setting")
        try:
            parsed = tomllib.loads(f"v = {text}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):
            parsed = text
        target[parts[-1]] = parsed
    return RunConfig.from_dict(values)
