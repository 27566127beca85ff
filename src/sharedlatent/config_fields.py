"""Dataclasses from TOML tables, checked by their type hints and field metadata: the generic half of config.

A field's metadata may bound it ({"min": 1}, {"min_exclusive": 0}, {"max": 1}, {"max_exclusive": 1}; a list's
bounds apply to each item, {"min_items": 1} to its length); a Literal hint lists the names it allows."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import warnings
from collections.abc import Mapping
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import DEPRECATED_NAMES, canonical
from sharedlatent.plain_values import is_integer, is_number


def check_fields(settings: Any, where: str) -> None:
    """Generic checks from each field's type and metadata: types of scalars (settings made in Python skip the TOML
    coercion), finite numbers, bounds, named choices."""
    hints = typing.get_type_hints(type(settings))
    for item in dataclasses.fields(settings):
        value, name, bounds = getattr(settings, item.name), f"{where}.{item.name}", item.metadata
        choices = _choices(hints[item.name])
        if value is None:
            continue
        _check_type(_scalar_hint(hints[item.name]), value, name)
        if choices:
            current = _current_name(value, choices, name)
            setattr(settings, item.name, current)
            require(current in choices, f"{name} must be one of {choices}, got {current!r}")
        elif isinstance(value, list):
            require(len(value) >= bounds.get("min_items", 0), f"{name} needs at least one layer")
            require(all(_within(v, bounds) for v in value), f"{name}: each {_bounds_text(bounds)}, got {value}")
        elif is_number(value):
            require(math.isfinite(value), f"{name} must be a finite number, got {value!r}")
            require(_within(value, bounds), f"{name} {_bounds_text(bounds)}, got {value}")


SCALAR_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _scalar_hint(hint: Any) -> Any:
    """bool, int, float or str for a field of that type (optional or not), list[int] as ("list", int); else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        others = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = others[0] if len(others) == 1 else None
    if typing.get_origin(hint) is list and typing.get_args(hint) and typing.get_args(hint)[0] in SCALAR_WORDS:
        return ("list", typing.get_args(hint)[0])
    return hint if hint in SCALAR_WORDS else None


def _check_type(hint: Any, value: Any, name: str) -> None:
    """A one-line error when `value` is not of the field's scalar type (bools are not numbers here)."""
    if hint is None:
        return
    if isinstance(hint, tuple):
        words = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}[hint[1]]
        ok = isinstance(value, list) and all(_is_a(hint[1], item) for item in value)
        require(ok, f"{name} must be a list of {words}, got {value!r}")
        return
    require(_is_a(hint, value), f"{name} must be {SCALAR_WORDS[hint]}, got {value!r}")


def _is_a(hint: type, value: Any) -> bool:
    """isinstance, with bools not counted as numbers and ints counted as floats."""
    if hint is float:
        return is_number(value)
    if hint is int:
        return is_integer(value)
    return isinstance(value, hint)


def _within(value: float, bounds: Mapping[str, float]) -> bool:
    """Whether `value` satisfies the metadata bounds min, min_exclusive, max and max_exclusive."""
    return (
        value >= bounds.get("min", -math.inf)
        and value > bounds.get("min_exclusive", -math.inf)
        and value <= bounds.get("max", math.inf)
        and value < bounds.get("max_exclusive", math.inf)
    )


def _bounds_text(bounds: Mapping[str, float]) -> str:
    """'must be at least 1', 'must be positive', 'must be in [0, 1)' and the like, from metadata bounds."""
    if "max" in bounds or "max_exclusive" in bounds:
        low = f"[{bounds['min']}" if "min" in bounds else f"({bounds['min_exclusive']}"
        high = f"{bounds['max']}]" if "max" in bounds else f"{bounds['max_exclusive']})"
        return f"must be in {low}, {high}"
    if "min_exclusive" in bounds:
        return "must be positive" if bounds["min_exclusive"] == 0 else f"must exceed {bounds['min_exclusive']}"
    return "must be non-negative" if bounds.get("min") == 0 else f"must be at least {bounds.get('min')}"


def _choices(hint: Any) -> tuple[str, ...]:
    """The names a Literal (or optional Literal) field allows; empty for other types."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next((_choices(arg) for arg in typing.get_args(hint) if _choices(arg)), ())
    return ()


def _current_name(value: Any, choices: tuple[str, ...], where: str) -> Any:
    """`value`, or the name that replaced it when it is a deprecated one (with a DeprecationWarning)."""
    if not isinstance(value, str) or value in choices or canonical(value) not in choices:
        return value
    if value in DEPRECATED_NAMES:
        warnings.warn(f"{where} = {value!r} is deprecated; use {canonical(value)!r}", DeprecationWarning, stacklevel=5)
    return canonical(value)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise SharedLatentError(message)


def drop_none(value: Any) -> Any:
    """TOML has no null: leave unset optional fields out."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    return value


def build_dataclass(cls: type, values: Any, where: str) -> Any:
    """Make dataclass `cls` from a dict, refusing unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise SharedLatentError(f"{where or 'the config'} must be a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SharedLatentError(
            f"unknown config key {_join(where, unknown[0])}; allowed keys: {', '.join(sorted(known))}"
        )
    return cls(**{key: _coerce(hints[key], value, _join(where, key)) for key, value in values.items()})


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value, where)
    if origin is typing.Literal:
        current = _current_name(value, args, where)
        if current not in args:
            raise SharedLatentError(f"{where} must be one of {args}, got {value!r}")
        return current
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise SharedLatentError(f"{where} must be a list, got {value!r}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SharedLatentError(f"{where} must be a table, got {value!r}")
        return {str(k): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise SharedLatentError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SharedLatentError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SharedLatentError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SharedLatentError(f"{where} must be a string, got {value!r}")
        return value
    return value
