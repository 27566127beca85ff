"""Every knob of a run in one place: dataclasses with defaults that run, mapped key by key onto TOML."""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEDULES = ("joint", "seed")
KL_FORMULAS = ("exact", "seed")
JOINT_POSTERIORS = (
    "mean",
    "poe",
    "moe",
)  # names in sharedlatent.nn.posteriors.POSTERIORS (kept here so config needs no torch)
LIKELIHOODS = ("sigmoid_mse", "gaussian", "gaussian_fixed", "bernoulli", "negative_binomial", "zinb")
COUNT_LIKELIHOODS = ("negative_binomial", "zinb")
LIBRARY_MODES = ("observed", "learned")


@dataclass
class DomainConfig:
    """How one named domain is modelled; unset fields fall back to the model-wide defaults."""

    private_widths: list[int] | None = None  # encoder widths from input to shared part; decoder mirrors them
    # sigmoid_mse (the original: sigmoid + squared error), gaussian (learned per-feature variance), gaussian_fixed,
    # bernoulli (logits; values in [0, 1]), negative_binomial or zinb (raw counts; the encoder sees log1p(counts))
    likelihood: str = "sigmoid_mse"
    preprocessing: str = "none"  # fitted on the training split, inverted on outputs: none, minmax, minmax_per_feature, standardize, log1p, log1p_minmax
    input_size: int | None = None  # taken from the data; when set it must match
    variance: float | None = None  # gaussian_fixed only: the fixed variance (unset = 1.0)
    library: str | None = (
        None  # negative_binomial / zinb only: "observed" (each sample's total count; unset) or "learned" (decoded from z)
    )

    def likelihood_options(self) -> dict[str, Any]:
        """The keyword options this domain's likelihood is built with."""
        if self.likelihood == "gaussian_fixed":
            return {"variance": 1.0 if self.variance is None else self.variance}
        if self.likelihood in COUNT_LIKELIHOODS:
            return {"library": self.library or "observed"}
        return {}


@dataclass
class ModelConfig:
    """The layout: private branches per domain, shared layers, latent size."""

    private_widths: list[int] = field(default_factory=lambda: [96, 64])  # first_layer_size, second_layer_size
    shared_widths: list[int] = field(default_factory=lambda: [32])  # third_layer_size (the merge layer)
    latent_size: int = 16  # encoded_size
    joint_posterior: str = "mean"  # how several domains' encodings combine: "mean" (the original's average of branch outputs), "poe" (product of experts with the prior), "moe" (mixture of experts)
    domains: dict[str, DomainConfig] = field(default_factory=dict)

    def widths_for(self, domain: str) -> list[int]:
        """Private widths of `domain` (its own override or the default)."""
        own = self.domains.get(domain)
        return list(own.private_widths) if own and own.private_widths else list(self.private_widths)

    def likelihood_for(self, domain: str) -> str:
        own = self.domains.get(domain)
        return own.likelihood if own else "sigmoid_mse"

    def preprocessing_for(self, domain: str) -> str:
        own = self.domains.get(domain)
        return own.preprocessing if own else "none"

    def likelihood_options_for(self, domain: str) -> dict[str, Any]:
        own = self.domains.get(domain)
        return own.likelihood_options() if own else {}


@dataclass
class TrainConfig:
    """How training runs: schedule, epochs, batches, optimiser, noise, early stopping, seed."""

    schedule: str = "joint"  # "joint": every path every step; "seed": the original's phases
    epochs: int = 300  # num_epochs: per phase for "seed", in total for "joint"
    batch_size: int = 64
    learning_rate: float = 2e-3
    beta: float = 1.0  # weight of the KL term (batch-mean KL next to batch-summed squared error)
    beta_warmup_epochs: int = 0  # raise the KL weight linearly from beta/N to beta over the first N epochs; 0 = off
    cross_weight: float = 1.0  # weight of cross-reconstruction terms (a single-domain path decoding another domain)
    cycle_weight: float = (
        0.0  # weight of cycle-consistency terms (each single-domain path: A -> B -> A, scored on A); 0 = off
    )
    kl_formula: str = "exact"  # "seed": the original's KL expression (log-sigma where 2 log-sigma belongs), added once per decoded domain as its Keras models did
    freeze_phases: bool = True  # "seed": each alternating phase trains only its group; false = the original as it ran
    noise_level: float = 0.0  # std of Gaussian noise added to inputs (denoising); targets stay clean
    patience: int = 20  # early stopping: epochs without improvement before stopping
    lr_decay: float = 0.5  # "joint" schedule: multiply the learning rate by this when the validation loss stalls
    lr_decay_patience: int = 5  # epochs without improvement before the learning rate decays
    validation_fraction: float = 0.1  # share of the training split held out for the validation loss
    seed: int = 0
    device: str = "cpu"  # "cpu", "cuda", "mps" or "auto"
    threads: int = (
        0  # CPU threads; 0 picks 1 for narrow layouts (threads cost more than they gain there), else torch's default
    )
    progress: bool = True


@dataclass
class RunConfig:
    """A whole run: which dataset, the model layout and the training."""

    dataset: str = "digits"
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self, input_sizes: dict[str, int] | None = None) -> None:
        """Raise SharedLatentError for impossible values, also against the data's domains when given."""
        validate_run_config(self, input_sizes)

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(dataclasses.asdict(self))

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        config = _build(cls, values, "")
        config.validate()
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise SharedLatentError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            raise SharedLatentError(f"cannot read config file {path}: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise SharedLatentError(f"config file {path} is not valid TOML: {error}") from None
        try:
            return cls.from_dict(values)
        except SharedLatentError as error:
            raise SharedLatentError(f"{path}: {error}") from None


def seed_config(**train_overrides: Any) -> RunConfig:
    """The original prototype's settings: its schedule, KL expression, batch 256, Adam at 1e-3, no hold-out.

    The original set its trainable flags on layer outputs, so its alternating phases froze nothing;
    freeze_phases=False reproduces that behaviour and its numbers."""
    train = TrainConfig(
        schedule="seed",
        epochs=50,
        batch_size=256,
        learning_rate=1e-3,
        kl_formula="seed",
        patience=3,
        validation_fraction=0.0,
        freeze_phases=False,
    )
    return RunConfig(train=dataclasses.replace(train, **train_overrides))


def validate_run_config(config: RunConfig, input_sizes: dict[str, int] | None = None) -> None:
    """Check values a model cannot be built or trained with."""
    model, train = config.model, config.train
    for settings in (train, *model.domains.values()):
        for item in dataclasses.fields(settings):
            value = getattr(settings, item.name)
            _require(
                not isinstance(value, float) or math.isfinite(value),
                f"{item.name} must be a finite number, got {value!r}",
            )
    _require(model.latent_size >= 1, f"model.latent_size must be at least 1, got {model.latent_size}")
    for where, widths in [
        ("model.private_widths", model.private_widths),
        ("model.shared_widths", model.shared_widths),
    ] + [(f"model.domains.{name}.private_widths", own.private_widths or []) for name, own in model.domains.items()]:
        _require(all(w >= 1 for w in widths), f"{where} must be positive integers, got {widths}")
    _require(len(model.private_widths) >= 1, "model.private_widths needs at least one layer")
    _require(
        model.joint_posterior in JOINT_POSTERIORS,
        f"model.joint_posterior must be one of {JOINT_POSTERIORS}, got {model.joint_posterior!r}",
    )
    from sharedlatent.preprocessing import PREPROCESSORS

    for name, own in model.domains.items():
        _require(
            own.preprocessing in PREPROCESSORS,
            f"model.domains.{name}.preprocessing must be one of {tuple(PREPROCESSORS)}, got {own.preprocessing!r}",
        )
        _require(
            own.likelihood in LIKELIHOODS,
            f"model.domains.{name}.likelihood must be one of {LIKELIHOODS}, got {own.likelihood!r}",
        )
        _validate_likelihood_options(name, own)
    _require(train.schedule in SCHEDULES, f"train.schedule must be one of {SCHEDULES}, got {train.schedule!r}")
    _require(
        train.kl_formula in KL_FORMULAS, f"train.kl_formula must be one of {KL_FORMULAS}, got {train.kl_formula!r}"
    )
    _require(train.epochs >= 1, f"train.epochs must be at least 1, got {train.epochs}")
    _require(train.batch_size >= 1, f"train.batch_size must be at least 1, got {train.batch_size}")
    _require(train.learning_rate > 0, f"train.learning_rate must be positive, got {train.learning_rate}")
    _require(train.beta >= 0, f"train.beta must be non-negative, got {train.beta}")
    _require(
        train.beta_warmup_epochs >= 0, f"train.beta_warmup_epochs must be non-negative, got {train.beta_warmup_epochs}"
    )
    _require(train.cross_weight >= 0, f"train.cross_weight must be non-negative, got {train.cross_weight}")
    _require(train.cycle_weight >= 0, f"train.cycle_weight must be non-negative, got {train.cycle_weight}")
    _require(train.noise_level >= 0, f"train.noise_level must be non-negative, got {train.noise_level}")
    _require(0 < train.lr_decay <= 1, f"train.lr_decay must be in (0, 1], got {train.lr_decay}")
    _require(
        train.lr_decay_patience >= 0, f"train.lr_decay_patience must be non-negative, got {train.lr_decay_patience}"
    )
    _require(train.patience >= 1, f"train.patience must be at least 1, got {train.patience}")
    _require(
        0 <= train.validation_fraction < 1,
        f"train.validation_fraction must be in [0, 1), got {train.validation_fraction}",
    )
    _require(train.threads >= 0, f"train.threads must be non-negative, got {train.threads}")
    _require(
        train.device in ("cpu", "cuda", "mps", "auto"),
        f"train.device must be cpu, cuda, mps or auto, got {train.device!r}",
    )
    if input_sizes is None:
        return
    _require(len(input_sizes) >= 2, f"a shared latent model needs at least two domains, got {list(input_sizes)}")
    from sharedlatent.nn.model import SHARED_GROUP

    _require(
        SHARED_GROUP not in input_sizes,
        f"a domain may not be named {SHARED_GROUP!r}: that name is the shared layers' parameter group",
    )
    unknown = sorted(set(model.domains) - set(input_sizes))
    _require(not unknown, f"model.domains names {unknown} but the data has domains {list(input_sizes)}")
    for name, size in input_sizes.items():
        own = model.domains.get(name)
        if own and own.input_size is not None:
            _require(
                own.input_size == size,
                f"model.domains.{name}.input_size is {own.input_size} but the data has {size} features",
            )
    last_widths = {name: model.widths_for(name)[-1] for name in input_sizes}
    _require(
        len(set(last_widths.values())) == 1,
        f"the shared layers need every domain's last private width to agree, got {last_widths}",
    )


def _validate_likelihood_options(name: str, own: DomainConfig) -> None:
    """Options that only make sense for some likelihoods, and count likelihoods that need raw counts."""
    where = f"model.domains.{name}"
    if own.variance is not None:
        _require(
            own.likelihood == "gaussian_fixed",
            f"{where}.variance applies only to likelihood 'gaussian_fixed', not {own.likelihood!r}",
        )
        _require(own.variance > 0, f"{where}.variance must be positive, got {own.variance}")
    if own.library is not None:
        _require(
            own.likelihood in COUNT_LIKELIHOODS,
            f"{where}.library applies only to likelihoods {COUNT_LIKELIHOODS}, not {own.likelihood!r}",
        )
        _require(own.library in LIBRARY_MODES, f"{where}.library must be one of {LIBRARY_MODES}, got {own.library!r}")
    if own.likelihood in COUNT_LIKELIHOODS:
        _require(
            own.preprocessing == "none",
            f"{where}.likelihood {own.likelihood!r} scores raw counts, so preprocessing must be 'none' (the encoder already sees log1p(counts)), got {own.preprocessing!r}",
        )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SharedLatentError(message)


def _drop_none(value: Any) -> Any:
    """TOML has no null: leave unset optional fields out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def _build(cls: type, values: Any, where: str) -> Any:
    """Make dataclass `cls` from a dict, refusing unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise SharedLatentError(f"{where or 'the config'} must be a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SharedLatentError(
            f"unknown config key {_join(where, unknown[0])}; allowed keys: {', '.join(sorted(known))}"
        )
    return cls(**{key: _coerce(hints[key], value, _join(where, key)) for key, value in values.items()})


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SharedLatentError(f"{where} must be a list, got {value!r}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SharedLatentError(f"{where} must be a table, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise SharedLatentError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SharedLatentError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SharedLatentError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SharedLatentError(f"{where} must be a string, got {value!r}")
        return value
    return value


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
        except tomllib.TOMLDecodeError:
            parsed = text
        target[parts[-1]] = parsed
    return RunConfig.from_dict(values)
