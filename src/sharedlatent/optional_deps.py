"""Optional dependencies: import one, or fail with the pip command that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from sharedlatent.errors import SharedLatentError


def require_module(name: str, needed_for: str, extra: str) -> ModuleType:
    """The module `name`, or an error naming what needs it and the extra that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise SharedLatentError(f"{needed_for} needs {name}: pip install 'sharedlatent[{extra}]'") from None
