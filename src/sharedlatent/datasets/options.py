"""Loader options as they arrive from the CLI (`--data-option key=value` gives strings): convert or explain."""

from __future__ import annotations

from pathlib import Path

from sharedlatent.errors import SharedLatentError

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def as_int(value: int | str | None, name: str, minimum: int | None = None) -> int | None:
    """An int from an int or a string such as "1000"; None stays None."""
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SharedLatentError(f"option {name!r} must be a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise SharedLatentError(f"option {name!r} must be at least {minimum}, got {number}")
    return number


def as_float(value: float | str | None, name: str, low: float | None = None, high: float | None = None) -> float | None:
    """A float from a number or a string; None stays None; checked against an open range (low, high)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SharedLatentError(f"option {name!r} must be a number, got {value!r}") from None
    if (low is not None and number <= low) or (high is not None and number >= high):
        raise SharedLatentError(f"option {name!r} must lie strictly between {low} and {high}, got {number}")
    return number


def as_bool(value: bool | str | int, name: str) -> bool:
    """A bool from a bool or a word such as "true", "yes", "1", "false", "no", "0"."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SharedLatentError(f"option {name!r} must be true or false, got {value!r}")


def as_path(value: str | Path | None, name: str) -> Path | None:
    """A Path from a string or a Path (with ~ expanded); None stays None."""
    if value is None or value == "":
        return None
    return Path(str(value)).expanduser()


def require_path(value: str | Path | None, name: str) -> Path:
    """Like `as_path`, but the option must be given."""
    path = as_path(value, name)
    if path is None:
        raise SharedLatentError(f"option {name!r} is required: give it as --data-option {name}=PATH")
    return path
