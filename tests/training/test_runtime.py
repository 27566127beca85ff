"""The CPU thread policy: one thread unless a batch through the widest layer is large enough to share."""

import torch

from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.runtime import thread_count


def test_small_steps_train_on_one_thread_and_large_ones_on_the_default():
    wide = SharedLatentModule({"rna": 2000, "protein": 30}, {"rna": [96], "protein": [96]}, [32], 16, {})
    narrow = SharedLatentModule({"left": 64, "right": 64}, {"left": [96], "right": [96]}, [32], 16, {})
    assert thread_count(wide, 0, batch_size=64) == 1  # 128k values per op: threads only add synchronisation
    assert thread_count(wide, 0, batch_size=1024) == torch.get_num_threads()
    assert thread_count(narrow, 0, batch_size=100_000) == 1
    assert thread_count(wide, 3, batch_size=64) == 3  # a configured count always wins
