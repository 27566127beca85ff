"""What the CLI wraps every command in: SIGTERM handled like Ctrl-C, OSErrors and deprecations as one line each."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so the same clean-up as Ctrl-C runs (staging folders, temporaries)."""


def os_error_line(error: OSError) -> str:
    """An OSError as one line naming the file, e.g. `No space left on device: out.npy`."""
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason}: {error.filename}" if error.filename else reason


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into Terminated for the block (main thread only; signals cannot be caught elsewhere)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deprecations_as_notes() -> Iterator[None]:
    """Show sharedlatent's deprecated-name warnings (e.g. schedule "seed") as one `note:` line each, its other
    warnings (e.g. count checks) as one `warning:` line, and drop mudata's notice about a future default, which a
    command-line user cannot act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=r".* is deprecated; use ", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"From 0\.4 \.update\(\) will not pull", category=FutureWarning)
        show = warnings.showwarning
        package = str(Path(__file__).resolve().parents[1])

        def one_line(message, category, filename, lineno, file=None, line=None):
            if category is DeprecationWarning and " is deprecated; use " in str(message):
                print(f"note: {message}", file=sys.stderr)
            elif str(Path(filename).resolve()).startswith(package):
                print(f"warning: {message}", file=sys.stderr)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = one_line
        yield
