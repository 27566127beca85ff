"""What the CLI wraps every command in: SIGTERM handled like Ctrl-C, OSErrors and deprecations as one line each, a
closed output pipe (`| head`) as a quiet stop."""

from __future__ import annotations

import contextlib
import os
import select
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


# What a shell reports for a program stopped by a closed pipe (128 + SIGPIPE): `| head` has all it asked for
EXIT_STDOUT_CLOSED = 141


def stdout_closed() -> bool:
    """Whether stdout is a pipe nobody reads any more (`| head` has exited), which poll reports as an error on its
    end. False where it cannot tell (no poll on Windows, stdout not a file)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that what is left in its buffer cannot fail again at exit."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
