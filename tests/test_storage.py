"""Files the package writes are standard data: JSON without bare NaN, readable by any JSON parser."""

import json
import math

import numpy as np

from sharedlatent.storage import read_json, write_json


def _strict(text: str):
    """Parse as a strict reader (JavaScript's JSON.parse) would: NaN and Infinity are not JSON."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_undefined_metrics_are_written_as_null(tmp_path):
    values = {
        "pearson": {"mean": float("nan"), "model": 0.5},
        "scores": [np.float32(np.inf), -math.inf, np.float64(0.25), 3, None, "text", True],
        "array": np.array([1.0, np.nan]),
    }
    write_json(tmp_path / "metrics.json", values)
    parsed = _strict((tmp_path / "metrics.json").read_text())
    assert parsed == {
        "pearson": {"mean": None, "model": 0.5},
        "scores": [None, None, 0.25, 3, None, "text", True],
        "array": [1.0, None],
    }
    assert read_json(tmp_path / "metrics.json") == parsed
