"""Checks of plain values read back from files (checkpoints, JSON): Python counts True as the number 1."""

from __future__ import annotations

from typing import Any

FLOAT32_MAX = 3.4028234663852886e38  # training, weights and outputs are float32: anything larger becomes infinite


def flattened(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys ({"train": {"seed": 0}} -> {"train.seed": 0})."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flattened(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def is_number(value: Any) -> bool:
    """A real number (int or float), not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """A whole number (int), not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_count(value: Any) -> bool:
    """A non-negative whole number, not a bool."""
    return is_integer(value) and value >= 0
