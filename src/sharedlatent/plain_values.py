"""Checks of plain values read back from files (checkpoints, JSON): Python counts True as the number 1."""

from __future__ import annotations

from typing import Any


def is_number(value: Any) -> bool:
    """A real number (int or float), not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """A whole number (int), not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_count(value: Any) -> bool:
    """A non-negative whole number, not a bool."""
    return is_integer(value) and value >= 0
