"""Trains the original prototype (a checkout of greenelab/shared-latent-space) once on arrays from an .npz file and
prints one JSON line: training seconds, joint-stage epochs run, sample-passes per second (over the whole training
and without each model's first epoch, in which Keras builds its training function) and test translation MSE.

Run by `prototype_speed.py` under a Python with TensorFlow 2 and its Keras 2 (e.g. tensorflow-cpu 2.15); it imports
neither torch nor sharedlatent. The prototype's own class builds and trains the model. Its file is adapted, as text,
to run there, and nothing in its arithmetic changes:
- its imports of the dataset modules (Python 2's cPickle), matplotlib and plot_model, and the plot_model call, go;
- its `keras.optimizers.Adam(lr=0.001, ..., epsilon=None, decay=0.0)` is built, with the same arguments, from Keras
  2.15's copy of the old optimiser class (`optimizer_v1.Adam`), which like Keras 2.1's gives each compiled model its
  own moments;
- it runs in TensorFlow 1 graph mode, as under the Keras 2.1 / TensorFlow 1 it was written for: its losses read
  layer tensors from the enclosing scope, which TensorFlow 2's eager Keras refuses.

    python prototype_runner.py PROTOTYPE_DIR DATA.npz EPOCHS SEED
"""

from __future__ import annotations

import json
import re
import sys
import time
import types
from pathlib import Path

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
import keras  # noqa: E402  (after the graph mode is set)

ADAPTATIONS = (
    (r"import matplotlib\.pyplot as plt\n", ""),
    (r"from keras\.utils import plot_model\n", ""),
    (r"import ICVL\nimport MNIST\n", ""),
    (r"keras\.optimizers\.Adam\(", "keras.src.optimizers.optimizer_v1.Adam("),
    (r"\n        plot_model\(self\.fullEncoder,.*?show_shapes=True\)\n", "\n"),
)


def prototype_class(directory: Path) -> type:
    """The prototype's shared_vae_class, adapted as the module docstring says; stops if a pattern is not found."""
    text = (directory / "shared_vae_class.py").read_text()
    for pattern, replacement in ADAPTATIONS:
        text, count = re.subn(pattern, replacement, text, flags=re.DOTALL)
        if count != 1:
            raise SystemExit(f"error: {directory / 'shared_vae_class.py'} is not the expected version ({pattern!r})")
    module = types.ModuleType("shared_vae_class")
    exec(compile(text, str(directory / "shared_vae_class.py"), "exec"), module.__dict__)  # noqa: S102
    return module.shared_vae_class


class EpochClock(keras.callbacks.Callback):
    """When each epoch of one fit call ended (perf_counter seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.ends.append(time.perf_counter())


def timed_calls(vae) -> dict[str, list[dict]]:
    """Wrap the fit of each of the prototype's four models to record, per call, its epochs and how long its first
    epoch took from the call's start (Keras builds a model's training function in its first call); progress bars
    off, as printing is not training."""
    calls: dict[str, list[dict]] = {"joint": [], "center": [], "left": [], "right": []}
    models = {"joint": vae.vae_model, "center": vae.centerModel, "left": vae.leftModel, "right": vae.rightModel}
    for name, model in models.items():

        def fit(*args, _fit=model.fit, _calls=calls[name], **kwargs):
            clock = EpochClock()
            start = time.perf_counter()
            history = _fit(*args, **{**kwargs, "verbose": 0, "callbacks": [*(kwargs.get("callbacks") or []), clock]})
            _calls.append({"epochs": len(clock.ends), "first_epoch_seconds": clock.ends[0] - start})
            return history

        model.fit = fit
    return calls


def main() -> None:
    directory, data_file, epochs, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, str(directory))  # its modules import each other from their folder
    keras.utils.set_random_seed(seed)
    data = np.load(data_file)
    left, right, left_test, right_test = (data[k] for k in ("left_train", "right_train", "left_test", "right_test"))
    from model_objects import model_parameters  # the prototype's own, from its folder

    parameters = model_parameters(
        batchSize=256,
        numEpochs=epochs,
        inputSizeLeft=left.shape[1],
        firstLayerSizeLeft=96,
        secondLayerSize=64,
        thirdLayerSize=32,
        encodedSize=16,
        inputSizeRight=right.shape[1],
        firstLayerSizeRight=96,
        dataSetInfo=None,
    )
    vae = prototype_class(directory)(parameters)
    vae.compile_model()
    calls = timed_calls(vae)
    start = time.perf_counter()
    vae.train_model(left, right, 0.0)  # no input noise, as original_config()
    seconds = time.perf_counter() - start
    joint_epochs = calls["joint"][0]["epochs"]
    phase_epochs = joint_epochs + 3 * epochs
    first_epochs = sum(model_calls[0]["first_epoch_seconds"] for model_calls in calls.values())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "joint_epochs": joint_epochs,
                "phase_epochs": phase_epochs,
                "passes_per_second": len(left) * phase_epochs / seconds,
                "first_epochs_seconds": first_epochs,
                "later_passes_per_second": len(left) * (phase_epochs - len(calls)) / (seconds - first_epochs),
                "left->right": float(np.mean((vae.leftToRightModel.predict(left_test)[1] - right_test) ** 2)),
                "right->left": float(np.mean((vae.rightToLeftModel.predict(right_test)[0] - left_test) ** 2)),
                "tensorflow": tf.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
