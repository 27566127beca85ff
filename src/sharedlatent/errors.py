"""The one error type users see: a sentence naming the file, domain, expected and actual."""


class SharedLatentError(Exception):
    """A problem with the user's input, config or files; the CLI prints it without a traceback."""
