"""The categorical batch covariate: a known batch shift leaves the latent while cell types stay apart; labels are
checked, saved and restored."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets.synthetic_batches import shifted_batches
from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.metrics import knn_label_transfer_accuracy
from sharedlatent.evaluation.mixing import batch_mixing_entropy


def small_config(seed: int = 0, **train: object) -> RunConfig:
    """A small Gaussian model that trains in about a second."""
    domains = {name: DomainConfig(likelihood="gaussian", preprocessing="standardize") for name in ("rna", "protein")}
    model = ModelConfig(private_widths=[32], shared_widths=[16], latent_size=4, domains=domains)
    settings = TrainConfig(epochs=60, batch_size=64, progress=False, validation_fraction=0.1, seed=seed, threads=1)
    for key, value in train.items():
        setattr(settings, key, value)
    return RunConfig(model=model, train=settings)


def mixing_and_accuracy(seed: int, with_batch: bool, **train: object) -> tuple[float, float]:
    """Batch mixing of the joint latent and kNN cell-type accuracy (first half -> second half)."""
    arrays, types, labels = shifted_batches(seed=seed)
    vae = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, small_config(seed, **train))
    vae.fit(arrays, batch=labels if with_batch else None)
    latent = vae.encode_joint(arrays)
    half = len(latent) // 2
    return batch_mixing_entropy(latent, labels), knn_label_transfer_accuracy(
        latent[:half], types[:half], latent[half:], types[half:]
    )


def test_batch_covariate_mixes_batches_and_keeps_cell_types():
    # Both models train on the ELBO (kl_reduction "sum", the default with batches); without batch labels the
    # latent must hold the batch to reconstruct it. Seeds 0, 1, 2 measured: see the commit message.
    without = mixing_and_accuracy(0, with_batch=False, kl_reduction="sum")
    with_batch = mixing_and_accuracy(0, with_batch=True)
    assert with_batch[0] > without[0] + 0.4
    assert with_batch[1] >= without[1] - 0.02


def test_transform_batch_decodes_as_the_other_batch_and_survives_save(tmp_path):
    arrays, _, labels = shifted_batches(n=400)
    vae = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, small_config(epochs=40))
    vae.fit(arrays, batch=labels)
    assert vae.config.model.batch_categories == 2 and vae.config.train.kl_reduction == "sum"
    a = labels == "a"
    as_a = vae.translate(arrays["rna"][a], "rna", "protein", batch="a")
    as_b = vae.translate(arrays["rna"][a], "rna", "protein", batch="a", transform_batch="b")
    true_shift = arrays["protein"][~a].mean(0) - arrays["protein"][a].mean(0)
    assert np.corrcoef((as_b - as_a).mean(0), true_shift)[0, 1] > 0.9
    path = tmp_path / "model.safetensors"
    vae.save(path)
    loaded = SharedLatentVAE.load(path)
    np.testing.assert_array_equal(loaded.translate(arrays["rna"][a], "rna", "protein", batch="a"), as_a)
    decoded = loaded.decode(loaded.encode(arrays["rna"][:3], "rna"), transform_batch=["a", "b", "b"])
    assert decoded["protein"].shape == (3, 10)


def test_batch_labels_are_checked():
    arrays, _, labels = shifted_batches(n=400)
    vae = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, small_config(epochs=1))
    with pytest.raises(SharedLatentError, match="10 batch labels for 400 samples"):
        vae.fit(arrays, batch=labels[:10])
    vae.fit(arrays, batch=labels)
    with pytest.raises(
        SharedLatentError, match="unknown batch label 'c'; the model was fitted on a, b; give transform_batch="
    ):
        vae.translate(arrays["rna"], "rna", "protein", batch="c")
    with pytest.raises(SharedLatentError, match="give batch= or transform_batch="):
        vae.translate(arrays["rna"], "rna", "protein")
    assert vae.encode(arrays["rna"], "rna").shape == (400, 4)  # the encoders never read the batch by default
    as_a = vae.translate(arrays["rna"], "rna", "protein", transform_batch="a")
    # decoded as "a" by encoders that ignore the batch: the samples' own labels are not needed, nor checked
    np.testing.assert_array_equal(vae.translate(arrays["rna"], "rna", "protein", batch="c", transform_batch="a"), as_a)
    plain = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, small_config(epochs=1))
    plain.fit(arrays)
    with pytest.raises(SharedLatentError, match="only to a model fitted with batch labels"):
        plain.translate(arrays["rna"], "rna", "protein", batch="a")


def test_batch_in_encoders_needs_labels_to_encode():
    arrays, _, labels = shifted_batches(n=400)
    config = small_config(epochs=1)
    config.model.batch_in_encoders = True
    vae = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, config)
    vae.fit(arrays, batch=labels)
    assert vae.module.encoders["rna"][0].in_features == 30 + 2
    with pytest.raises(SharedLatentError, match="encoders read the batch"):
        vae.encode(arrays["rna"], "rna")
    with pytest.raises(SharedLatentError, match="unknown batch label 'c'"):  # its encoders need known labels
        vae.translate(arrays["rna"], "rna", "protein", batch="c", transform_batch="a")
    assert vae.encode(arrays["rna"], "rna", batch=labels).shape == (400, 4)


def test_a_model_without_batches_has_no_batch_weights():
    config = small_config()
    without = SharedLatentVAE({"rna": 30, "protein": 10}, config)
    assert without.module.decoders["rna"][0].in_features == 16 and without.module.encoders["rna"][0].in_features == 30
    assert without.config.model.batch_categories == 0


@pytest.fixture(scope="module")
def saved_batch_model(tmp_path_factory) -> bytes:
    arrays, _, labels = shifted_batches(n=400)
    vae = SharedLatentVAE({name: v.shape[1] for name, v in arrays.items()}, small_config(epochs=1))
    vae.fit(arrays, batch=labels)
    path = tmp_path_factory.mktemp("batch") / "model.safetensors"
    vae.save(path)
    return path.read_bytes()


def rewrite_batch_record(path, batch: object) -> None:
    """Replace the batch record inside a model file's JSON metadata, keeping the tensors."""
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    metadata = json.loads(header["__metadata__"]["sharedlatent"])
    metadata["batch"] = batch
    header["__metadata__"]["sharedlatent"] = json.dumps(metadata)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (None, "2 batch categories but no batch labels"),
        ({"labels": ["a", "b", "c"], "obs_key": None}, "at most batch_categories"),
        ({"labels": ["a", "a"], "obs_key": None}, "distinct"),
        ({"labels": [1, 2], "obs_key": None}, "list of strings"),
        ({"labels": ["a", "b"]}, "exactly labels and obs_key"),
        ({"labels": ["a", "b"], "obs_key": 3}, "column name or null"),
    ],
)
def test_a_model_file_with_a_bad_batch_record_is_refused(saved_batch_model, tmp_path, record, message):
    path = tmp_path / "model.safetensors"
    path.write_bytes(saved_batch_model)
    rewrite_batch_record(path, record)
    with pytest.raises(SharedLatentError, match=message):
        SharedLatentVAE.load(path)
