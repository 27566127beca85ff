"""Loader options given as strings or numbers: one-line errors that name the option and its bounds."""

import pytest

from sharedlatent.datasets.options import as_float
from sharedlatent.errors import SharedLatentError


@pytest.mark.parametrize(
    ("value", "low", "high", "message"),
    [
        (2, 0.0, 1.0, "option 'x' must lie strictly between 0 and 1, got 2"),
        (5, None, 1.0, "option 'x' must lie strictly below 1, got 5"),
        (-1, 0.0, None, "option 'x' must lie strictly above 0, got -1"),
    ],
)
def test_a_number_out_of_its_range_names_the_bounds_it_has(value, low, high, message):
    with pytest.raises(SharedLatentError, match=f"^{message}$"):
        as_float(value, "x", low, high)


def test_numbers_in_range_and_strings_pass():
    assert as_float("0.25", "x", 0.0, 1.0) == 0.25
    assert as_float(None, "x", 0.0, 1.0) is None
