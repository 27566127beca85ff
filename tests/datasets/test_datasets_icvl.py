"""ICVL loader on a few frames written in the real format: 16-bit PNG depth maps and a label text file."""

import numpy as np
import pytest
from PIL import Image

from sharedlatent.datasets.icvl import HEIGHT, WIDTH, JointScaling, SkeletonRenderer, load_icvl_pair, read_depth_png
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.errors import SharedLatentError

RNG = np.random.default_rng(0)


def write_frames(folder, n=5, label_name="labels.txt", seq="2014_04_16/00001"):
    (folder / "Depth" / seq).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        depth = np.zeros((24, 32), dtype=np.uint16)
        depth[6:18, 8:24] = 300 + 10 * i  # the hand
        depth[0, :] = 2000  # a far wall
        Image.fromarray(depth).save(folder / "Depth" / seq / f"image_{i:04d}.png")
        joints = np.column_stack([RNG.uniform(8, 24, 16), RNG.uniform(6, 18, 16), RNG.uniform(280, 340, 16)])
        lines.append(f"{seq}/image_{i:04d}.png " + " ".join(f"{v:.3f}" for v in joints.ravel()))
    (folder / label_name).write_text("\n".join(lines) + "\n")
    return np.array([[float(v) for v in line.split()[1:]] for line in lines])


def test_sixteen_bit_png_reads_as_millimetres(tmp_path):
    Image.fromarray(np.array([[0, 40000]], dtype=np.uint16)).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode == "I;16"
    np.testing.assert_array_equal(read_depth_png(tmp_path / "d.png"), [[0.0, 40000.0]])


def test_load_icvl_pair_shapes_ranges_and_inverse(tmp_path):
    joints = write_frames(tmp_path, n=5)
    dataset = load_icvl_pair(path=str(tmp_path), test_fraction="0.2", seed="0")
    assert dataset.input_sizes == {"depth": HEIGHT * WIDTH, "joints": 48}
    assert (dataset.train.n_samples, dataset.test.n_samples) == (4, 1)
    for values in (dataset.train.domains["depth"], dataset.test.domains["depth"], dataset.train.domains["joints"]):
        assert values.min() >= 0.0 and values.max() <= 1.0  # test joints may fall outside the training range
    depth = dataset.train.domains["depth"][0].reshape(HEIGHT, WIDTH)
    assert depth[HEIGHT // 2, WIDTH // 2] < 0.6 and depth[HEIGHT - 1, 0] == 1.0  # hand near, no reading far
    first_train = int(dataset.train.sample_ids[0][-8:-4])
    restored = dataset.joint_scaling.inverse_transform(dataset.train.domains["joints"][:1])
    np.testing.assert_allclose(restored[0], joints[first_train], atol=1e-3)
    assert dataset.feature_names["joints"][:3] == ["palm_u", "palm_v", "palm_depth"]


def test_separate_test_label_file_and_registry(tmp_path):
    write_frames(tmp_path, n=4)
    write_frames(tmp_path, n=2, label_name="test_seq_1.txt", seq="test_seq_1")
    dataset = load_dataset("icvl", path=str(tmp_path), test_labels="test_seq_1.txt", limit="3")
    assert (dataset.train.n_samples, dataset.test.n_samples) == (3, 2)


def test_joint_scaling_round_trip_and_json():
    joints = RNG.uniform(0, 300, (7, 48))
    scaling = JointScaling.fit(joints)
    np.testing.assert_allclose(scaling.inverse_transform(scaling.transform(joints)), joints, atol=1e-3)
    assert JointScaling(**scaling.to_dict()) == scaling


def test_skeleton_renderer_draws_one_line_per_finger():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    SkeletonRenderer()(ax, RNG.random(48))
    assert len({line.get_color() for line in ax.lines[:5]}) == 5
    plt.close(figure)


def test_bad_label_line_missing_image_and_missing_labels(tmp_path):
    with pytest.raises(SharedLatentError, match="no ICVL label file"):
        load_icvl_pair(path=tmp_path)
    (tmp_path / "labels.txt").write_text("a.png 1 2 3\n")
    with pytest.raises(SharedLatentError, match="line 1: expected an image path and 48 numbers"):
        load_icvl_pair(path=tmp_path)
    (tmp_path / "labels.txt").write_text("missing.png " + " ".join(["1"] * 48) + "\n")
    with pytest.raises(SharedLatentError, match="depth image 'missing.png'"):
        load_icvl_pair(path=tmp_path)


def test_eight_bit_rgb_image_is_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(SharedLatentError, match="16-bit greyscale"):
        read_depth_png(tmp_path / "rgb.png")
