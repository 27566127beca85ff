"""Each set of choices is declared once in names.py: the registries that implement them, config and the CLI agree."""

import typing

import pytest

from sharedlatent import config, names
from sharedlatent.nn.likelihoods import LIKELIHOODS, make_likelihood
from sharedlatent.nn.posteriors import POSTERIORS
from sharedlatent.preprocessing import PREPROCESSORS
from sharedlatent.runs.cli import build_parser
from sharedlatent.training.schedules import SCHEDULES


@pytest.mark.parametrize(
    "declared, registry",
    [
        (names.SCHEDULES, SCHEDULES),
        (names.JOINT_POSTERIORS, POSTERIORS),
        (names.LIKELIHOODS, LIKELIHOODS),
        (names.PREPROCESSINGS, PREPROCESSORS),
    ],
)
def test_each_names_tuple_matches_the_registry_that_implements_it(declared, registry):
    assert {names.canonical(key) for key in registry} == set(declared)


def test_likelihood_kinds_cover_every_likelihood():
    assert set(names.LIKELIHOOD_KINDS) == set(names.LIKELIHOODS)
    assert set(names.LIKELIHOOD_KINDS.values()) <= set(typing.get_args(names.TargetKind))
    assert {name: make_likelihood(name, 4).kind for name in LIKELIHOODS} == names.LIKELIHOOD_KINDS


def test_deprecated_names_map_onto_current_ones():
    assert names.canonical("seed") == "original" and names.canonical("joint") == "joint"
    assert set(names.DEPRECATED_NAMES.values()) <= set(names.SCHEDULES) & set(names.KL_FORMULAS)


def test_config_reads_the_names():
    for attribute in (
        "SCHEDULES",
        "KL_FORMULAS",
        "JOINT_POSTERIORS",
        "LIKELIHOODS",
        "COUNT_LIKELIHOODS",
        "LIBRARY_MODES",
        "PREPROCESSINGS",
        "DEVICES",
        "SHARED_GROUP",
    ):
        assert getattr(config, attribute) is getattr(names, attribute), attribute
    hints = typing.get_type_hints(config.TrainConfig)
    assert typing.get_args(hints["schedule"]) == names.SCHEDULES
    assert typing.get_args(hints["kl_formula"]) == names.KL_FORMULAS
    assert typing.get_args(hints["device"]) == names.DEVICES
    assert typing.get_args(typing.get_type_hints(config.ModelConfig)["joint_posterior"]) == names.JOINT_POSTERIORS


def option_choices(command: str, option: str) -> tuple:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    action = next(a for a in subcommands[command]._actions if option in a.option_strings)
    return tuple(action.choices)


def test_cli_choices_read_the_names():
    assert option_choices("train", "--schedule") == names.accepted(names.SCHEDULES) == ("joint", "original", "seed")
    assert option_choices("train", "--device") == names.DEVICES
    assert option_choices("generate", "--method") == names.GENERATION_METHODS
    assert option_choices("evaluate", "--split") == option_choices("compare", "--split") == names.SPLITS
