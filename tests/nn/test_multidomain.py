"""Three domains end to end: schedules, fit, translation between every pair, joint encodings, generation, save/load."""

import itertools

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.training.schedules import build_schedule

NAMES = ["rna", "protein", "mutation"]


@pytest.fixture(scope="module")
def omics():
    return load_dataset(
        "synthetic_omics", n_samples=240, n_domains=3, fraction_unpaired=0.2, n_genes=30, n_proteins=6, n_mutations=12
    )


def omics_config(posterior: str = "poe", schedule: str = "joint", epochs: int = 3) -> RunConfig:
    config = RunConfig(
        model=ModelConfig(private_widths=[16, 8], shared_widths=[8], latent_size=3, joint_posterior=posterior),
        train=TrainConfig(
            schedule=schedule,
            epochs=epochs,
            batch_size=64,
            progress=False,
            validation_fraction=0.2,
            threads=1,
            cycle_weight=0.1,
        ),
    )
    config.model.domains = {
        "rna": DomainConfig(likelihood="zinb", library="learned"),
        "protein": DomainConfig(likelihood="gaussian", preprocessing="standardize"),
        "mutation": DomainConfig(likelihood="bernoulli"),
    }
    return config


def test_schedules_cover_every_domain():
    joint = build_schedule("joint", NAMES, 5)[0].phases[0]
    assert joint.routes[0].sources == tuple(NAMES) and [r.sources for r in joint.routes[1:]] == [(n,) for n in NAMES]
    assert all(r.targets == tuple(NAMES) for r in joint.routes)
    for name in ("original", "seed"):  # "seed": the version 0.1 name
        original = build_schedule(name, NAMES, 5)
        assert [phase.name for phase in original[1].phases] == ["center", *NAMES]


@pytest.mark.parametrize("posterior", ["mean", "poe", "moe"])
def test_three_domains_end_to_end(omics, posterior, tmp_path):
    model = SharedLatentVAE(omics.input_sizes, omics_config(posterior))
    history = model.fit(omics.train)
    terms = history.records[-1].terms
    assert {(tuple(NAMES), "mutation"), (("protein",), "rna")} <= set(terms.reconstruction)
    assert ("mutation", "rna") in terms.cycle and ("rna",) in terms.kl
    assert all(np.isfinite(r.train_loss) and np.isfinite(r.validation_loss) for r in history.records)
    test = omics.test.domains
    for source, target in itertools.permutations(NAMES, 2):
        out = model.translate(test[source], source, target)
        assert out.shape == test[target].shape and np.isfinite(out).all()
    assert (model.translate(test["rna"], "rna", "mutation") <= 1).all()  # probabilities
    assert (model.translate(test["protein"], "protein", "rna") >= 0).all()  # expected counts
    for size in (1, 2, 3):
        for subset in itertools.combinations(NAMES, size):
            assert model.encode_joint({name: test[name] for name in subset}).shape == (omics.test.n_samples, 3)
    generated = model.generate(6, seed=1)
    assert set(generated) == set(NAMES) and generated["mutation"].shape == (6, 12)
    path = tmp_path / "three.safetensors"
    model.save(path)
    loaded = SharedLatentVAE.load(path)
    for source, target in itertools.permutations(NAMES, 2):
        np.testing.assert_array_equal(
            model.translate(test[source], source, target), loaded.translate(test[source], source, target)
        )
    np.testing.assert_array_equal(model.encode_joint(test), loaded.encode_joint(test))
    np.testing.assert_array_equal(model.generate(4, seed=2)["rna"], loaded.generate(4, seed=2)["rna"])
    np.testing.assert_array_equal(model.reconstruct(test["rna"], "rna"), loaded.reconstruct(test["rna"], "rna"))


def test_seed_schedule_runs_on_three_domains(omics):
    config = omics_config("mean", schedule="original", epochs=2)
    history = SharedLatentVAE(omics.input_sizes, config).fit(omics.train)
    assert history.phases() == ["joint", "center", *NAMES]


def test_reconstruction_of_counts_keeps_the_observed_library(omics):
    config = omics_config("poe")
    config.model.domains["rna"] = DomainConfig(likelihood="negative_binomial")
    model = SharedLatentVAE(omics.input_sizes, config)
    model.fit(omics.train)
    rna = omics.test.domains["rna"]
    np.testing.assert_allclose(model.reconstruct(rna, "rna").sum(1), rna.sum(1), rtol=1e-4)
    translated_totals = model.translate(omics.test.domains["protein"], "protein", "rna").sum(1)
    train_rna = omics.train.domains["rna"][omics.train.presence("rna")]
    # no total to observe: each sample's is predicted from its latent (library_prediction.py); synthetic_omics draws
    # totals independently of the cells, so the predictions stay near the training mean on average
    assert abs(translated_totals.mean() / train_rna.sum(1).mean() - 1) < 0.05
    predictor = model.library_predictors["rna"]
    assert (translated_totals >= predictor.low * 0.999).all() and (translated_totals <= predictor.high * 1.001).all()
