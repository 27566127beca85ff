"""MNIST loader on tiny IDX / npz files written in the true on-disk format; fetch without touching the network."""

import gzip
import io
import urllib.error
import urllib.request

import numpy as np
import pytest

from sharedlatent.datasets import mnist
from sharedlatent.datasets.download import download_file, file_md5
from sharedlatent.datasets.idx import read_idx, write_idx
from sharedlatent.errors import SharedLatentError


def write_tiny_mnist(folder, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(n_train, dtype=np.uint8) % 10,
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for key, stem in mnist.IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


def test_idx_header_is_big_endian_and_read_back(tmp_path):
    raw = (
        bytes([0, 0, 8, 3])
        + (2).to_bytes(4, "big")
        + (28).to_bytes(4, "big")
        + (28).to_bytes(4, "big")
        + bytes(range(256)) * 6
        + bytes(2 * 784 - 1536)
    )
    (tmp_path / "x").write_bytes(raw)
    array = read_idx(tmp_path / "x", expected_ndim=3)
    assert array.shape == (2, 28, 28) and array.dtype == np.uint8
    assert array.ravel()[255] == 255


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_pair_from_idx(tmp_path, gz):
    arrays = write_tiny_mnist(tmp_path, gz=gz)
    dataset = mnist.load_mnist_pair(path=str(tmp_path))
    assert dataset.input_sizes == {"left": 784, "right": 784}
    assert dataset.train.n_samples == 6 and dataset.test.n_samples == 4
    np.testing.assert_allclose(dataset.train.domains["left"][0], arrays["train_images"][0].ravel() / 255.0, atol=1e-6)
    np.testing.assert_allclose(dataset.train.domains["right"], 1.0 - dataset.train.domains["left"], atol=1e-6)
    np.testing.assert_array_equal(dataset.test.labels, arrays["test_labels"])


def test_limit_accepts_a_string(tmp_path):
    write_tiny_mnist(tmp_path)
    dataset = mnist.load_mnist_pair(path=str(tmp_path), limit="3")
    assert dataset.train.n_samples == 3 and dataset.test.n_samples == 3


def test_load_mnist_pair_from_keras_npz(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_train=np.arange(5, dtype=np.uint8),
        x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        y_test=np.arange(3, dtype=np.uint8),
    )
    dataset = mnist.load_mnist_pair(path=tmp_path)
    assert dataset.train.n_samples == 5 and dataset.test.n_samples == 3
    assert dataset.train.domains["left"].min() >= 0.0 and dataset.train.domains["left"].max() <= 1.0


def test_cache_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SHAREDLATENT_DATA", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    write_tiny_mnist(tmp_path / "mnist")
    assert mnist.load_mnist_pair().train.n_samples == 6


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(SharedLatentError) as caught:
        mnist.load_mnist_pair(path=tmp_path)
    message = str(caught.value)
    assert str(tmp_path) in message and "train-images-idx3-ubyte" in message and "sharedlatent fetch mnist" in message


def test_bad_magic_number(tmp_path):
    write_tiny_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as stream:
        stream.write(b"\x12\x34\x08\x01" + (6).to_bytes(4, "big") + bytes(6))
    with pytest.raises(SharedLatentError, match="not an IDX file"):
        mnist.load_mnist_pair(path=tmp_path)


def test_wrong_dimensions_and_truncation(tmp_path):
    write_idx(tmp_path / "flat", np.zeros((3, 4), dtype=np.uint8))
    with pytest.raises(SharedLatentError, match="3 dimensions"):
        read_idx(tmp_path / "flat", expected_ndim=3)
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(4))
    with pytest.raises(SharedLatentError, match="holds 4 bytes"):
        read_idx(tmp_path / "short")


def test_wrong_image_size(tmp_path):
    write_tiny_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(SharedLatentError, match=r"\(n, 28, 28\)"):
        mnist.load_mnist_pair(path=tmp_path)


def test_label_count_must_match(tmp_path):
    write_tiny_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(SharedLatentError, match="4 images but labels"):
        mnist.load_mnist_pair(path=tmp_path)


def test_fetch_without_network_explains_manual_placement(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(SharedLatentError) as caught:
        mnist.fetch_mnist(tmp_path / "mnist")
    message = str(caught.value)
    assert "no network" in message and str(tmp_path / "mnist") in message and "train-images-idx3-ubyte.gz" in message
    assert not list((tmp_path / "mnist").glob("*"))


def test_download_checks_md5_and_writes_atomically(tmp_path, monkeypatch):
    payload = b"tiny payload"
    (tmp_path / "ref").write_bytes(payload)
    good_md5 = file_md5(tmp_path / "ref")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    target = download_file(["https://mirror.invalid/f"], tmp_path / "out" / "f.gz", md5=good_md5, size=len(payload))
    assert target.read_bytes() == payload
    with pytest.raises(SharedLatentError, match="corrupt"):
        download_file(["https://mirror.invalid/f"], tmp_path / "out" / "g.gz", md5="0" * 32)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f.gz"]


def test_fetch_skips_files_already_verified(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "GZ_CHECKSUMS", {"a.gz": (None, 3)})
    (tmp_path / "a.gz").write_bytes(b"abc")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("should not download"))
    assert mnist.fetch_mnist(str(tmp_path)) == [tmp_path / "a.gz"]
