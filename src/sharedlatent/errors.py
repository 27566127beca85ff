"""The one error type users see: a sentence naming the file, domain, expected and actual."""

from collections.abc import Iterable


class SharedLatentError(Exception):
    """A problem with the user's input, config or files; the CLI prints it without a traceback.

    `cli`: the same sentence in the command line's words (`--transform-batch LABEL` for `transform_batch=`), for an
    error whose fix the caller names differently there; the CLI prints it instead (runs/cli_objects.py)."""

    def __init__(self, message: str = "", *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli


def first_line(error: BaseException, limit: int = 200, typed: bool = False) -> str:
    """The first line of an exception's message (its type's name when the message is empty), for an error line;
    `typed` puts the type's name first ("KeyError: 'optimizer'")."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return (f"{type(error).__name__}: {lines[0]}" if typed else lines[0])[:limit]


def listed(items: Iterable[object], limit: int = 20) -> str:
    """The first `limit` distinct items as one comma-separated phrase for an error line ("none" when empty)."""
    distinct = list(dict.fromkeys(str(item) for item in items))
    return ", ".join(distinct[:limit]) + (", ..." if len(distinct) > limit else "") if distinct else "none"
