"""Shared latent space variational autoencoders for paired data domains."""

from sharedlatent.errors import SharedLatentError

__version__ = "0.8.1"

__all__ = ["SharedLatentError", "SharedLatentVAE", "RunConfig", "load_dataset", "__version__"]


def __getattr__(name: str):
    # Lazy imports keep `import sharedlatent` (and the CLI's --help) fast: torch loads only when needed.
    if name == "SharedLatentVAE":
        from sharedlatent.api import SharedLatentVAE

        return SharedLatentVAE
    if name == "RunConfig":
        from sharedlatent.config import RunConfig

        return RunConfig
    if name == "load_dataset":
        from sharedlatent.datasets import load_dataset

        return load_dataset
    raise AttributeError(f"module 'sharedlatent' has no attribute {name!r}")
