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
        if low is not None and high is not None:
            bounds = f"between {low:g} and {high:g}"
        else:
            bounds = f"above {low:g}" if low is not None else f"below {high:g}"
        raise SharedLatentError(f"option {name!r} must lie strictly {bounds}, got {number:g}")
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


PATH_SUFFIX = "_path"


def domain_files(
    loader: str,
    left_path: str | Path | None,
    right_path: str | Path | None,
    left: str,
    right: str,
    named: dict[str, str],
) -> dict[str, Path]:
    """Each domain's file, by its name: `left` and `right` for left_path and right_path, else the prefix of each
    NAME_path option; at least two domains, each named once."""
    unknown = [key for key in named if not key.endswith(PATH_SUFFIX) or key == PATH_SUFFIX]
    if unknown:
        raise SharedLatentError(
            f"{loader}: unknown option {unknown[0]!r}; domains are files given as left_path / right_path or NAME_path"
            + (" (NAME_layer / NAME_obsm per domain)" if loader == "h5ad" else "")
        )
    if left == right:
        raise SharedLatentError(f"the two domains need different names, both are {left!r}")
    if named and (left_path is not None or right_path is not None or (left, right) != ("left", "right")):
        raise SharedLatentError(
            f"{loader}: name every domain with NAME_path options, or use left_path and right_path (and left= / right=),"
            " not both"
        )
    options: dict[str, tuple[str, str | Path | None]] = {}  # domain -> (its option, its value)
    if not named:
        options = {left: ("left_path", left_path), right: ("right_path", right_path)}
    for key, value in named.items():
        domain = key[: -len(PATH_SUFFIX)]
        if domain in options:
            raise SharedLatentError(f"{loader}: domain {domain!r} is given twice; name each domain once")
        options[domain] = (key, value)
    if len(options) < 2:
        raise SharedLatentError(f"{loader}: give at least two domains' files (left_path and right_path, or NAME_path)")
    return {domain: require_path(value, option) for domain, (option, value) in options.items()}


def refuse_one_matrix_twice(sources: dict[str, tuple]) -> None:
    """Refuse two domains that read the same matrix (`sources`: domain -> its file and layer / obsm): the model
    would learn to translate a matrix into itself. A combined file (RNA and antibody capture in one .h5ad) must be
    split into a file, layer or obsm per domain first."""
    seen: dict[tuple, str] = {}
    for domain, source in sources.items():
        if source in seen:
            raise SharedLatentError(
                f"domains {seen[source]!r} and {domain!r} read the same matrix ({source[0]}); give each domain its own "
                "file (split a combined one first: by column for a table, by var['feature_types'] for an .h5ad), or "
                "for an .h5ad its own layer or obsm"
            )
        seen[source] = domain
