"""Every built-in dataset spec points at a loader that imports and says what it needs."""

import pytest

from sharedlatent.datasets.registry import DATASETS, import_loader, load_dataset
from sharedlatent.errors import SharedLatentError


@pytest.mark.parametrize("name", ["mnist", "icvl", "tables", "h5ad", "h5mu", "pickle", "linnerud"])
def test_spec_is_registered_and_imports(name):
    spec = DATASETS[name]
    assert callable(import_loader(spec.loader_path)) and spec.needs


def test_required_path_options_are_named():
    with pytest.raises(SharedLatentError, match="option 'left_path' is required"):
        load_dataset("tables")
    with pytest.raises(SharedLatentError, match="option 'limit' must be a whole number"):
        load_dataset("mnist", limit="many")
