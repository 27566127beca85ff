"""The one error type users see: a sentence naming the file, domain, expected and actual."""

from collections.abc import Iterable


class SharedLatentError(Exception):
    """A problem with the user's input, config or files; the CLI prints it without a traceback.

    `cli`: the same sentence in the command line's words (`--transform-batch LABEL` for `transform_batch=`), for an
    error whose fix the caller names differently there; the CLI prints it instead (runs/cli_objects.py)."""

    def __init__(self, message: str = "", *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli


def listed(items: Iterable[object], limit: int = 20) -> str:
    """The first `limit` distinct items as one comma-separated phrase for an error line ("none" when empty)."""
    distinct = list(dict.fromkeys(str(item) for item in items))
    return ", ".join(distinct[:limit]) + (", ..." if len(distinct) > limit else "") if distinct else "none"
