"""Every set of named choices, declared once and free of torch: config validation, the CLI, metrics and the
model summary read these; the modules that implement the choices key their registries by them."""

from __future__ import annotations

from typing import Literal, get_args

Schedule = Literal["joint", "original"]
KlFormula = Literal["exact", "original"]
# "mean": the KL averaged over the batch while errors are summed (the original's); "sum": summed like the errors
KlReduction = Literal["mean", "sum"]
KlReductionSetting = Literal[KlReduction, "auto"]
JointPosterior = Literal["mean", "poe", "moe"]
Likelihood = Literal["sigmoid_mse", "gaussian", "gaussian_fixed", "bernoulli", "negative_binomial", "zinb"]
LibraryMode = Literal["observed", "learned"]
Preprocessing = Literal["none", "minmax", "minmax_per_feature", "standardize", "log1p", "log1p_minmax"]
AUTO = "auto"  # chosen from the training data when a run starts (sharedlatent.auto_settings)
LikelihoodSetting = Literal[Likelihood, "auto"]
PreprocessingSetting = Literal[Preprocessing, "auto"]
GenerationMethod = Literal["box", "prior"]
Device = Literal["cpu", "cuda", "mps", "auto"]
Precision = Literal["float32", "bf16"]  # "bf16": bfloat16 autocast for the training forward pass
TargetKind = Literal["continuous", "binary", "counts"]
Split = Literal["test", "train"]

SCHEDULES: tuple[str, ...] = get_args(Schedule)
KL_FORMULAS: tuple[str, ...] = get_args(KlFormula)
KL_REDUCTIONS: tuple[str, ...] = get_args(KlReduction)
JOINT_POSTERIORS: tuple[str, ...] = get_args(JointPosterior)
LIKELIHOODS: tuple[str, ...] = get_args(Likelihood)
LIBRARY_MODES: tuple[str, ...] = get_args(LibraryMode)
PREPROCESSINGS: tuple[str, ...] = get_args(Preprocessing)
GENERATION_METHODS: tuple[str, ...] = get_args(GenerationMethod)
DEVICES: tuple[str, ...] = get_args(Device)
PRECISIONS: tuple[str, ...] = get_args(Precision)
SPLITS: tuple[str, ...] = get_args(Split)

# What evaluation treats each likelihood's target as; the likelihood classes expose the same as `.kind`.
LIKELIHOOD_KINDS: dict[str, str] = {
    "sigmoid_mse": "continuous",
    "gaussian": "continuous",
    "gaussian_fixed": "continuous",
    "bernoulli": "binary",
    "negative_binomial": "counts",
    "zinb": "counts",
}
COUNT_LIKELIHOODS: tuple[str, ...] = tuple(name for name, kind in LIKELIHOOD_KINDS.items() if kind == "counts")
# Likelihoods whose decoder output is the predicted value itself, so an output layer with zero weights predicts its
# bias: 0, the training mean of standardised data (model.zero_output_layers)
VALUE_OUTPUT_LIKELIHOODS: tuple[str, ...] = ("gaussian", "gaussian_fixed")

# Names of version 0.1 that still load (with a deprecation warning), each with the name that replaced it.
DEPRECATED_NAMES: dict[str, str] = {"seed": "original"}
# Other spellings accepted without a warning: "nb" as scvi-tools spells it.
ALIASES: dict[str, str] = {"nb": "negative_binomial"}

# The shared layers' parameter group; no domain may take this name.
SHARED_GROUP = "shared"
# Domain names become file names (scatter_<domain>_..., FILE_<domain>.csv) and torch module keys: letters, digits,
# "_" and "-", starting with a letter or digit, so no name can reach outside a folder or break a module path.
DOMAIN_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


def canonical(name: str) -> str:
    """The current name for `name` ("seed" becomes "original", "nb" becomes "negative_binomial"); others unchanged."""
    return DEPRECATED_NAMES.get(name, ALIASES.get(name, name))


def accepted(choices: tuple[str, ...]) -> tuple[str, ...]:
    """`choices` plus the deprecated names that map onto one of them, as a command line still accepts them."""
    return choices + tuple(old for old, new in DEPRECATED_NAMES.items() if new in choices and old not in choices)
