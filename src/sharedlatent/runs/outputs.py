"""Output files of translate and generate: refuse paths that would lose data, write sets of files all or nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sharedlatent.errors import SharedLatentError

MAX_GENERATED_BYTES = 2 * 1024**3  # generate holds the samples in memory; above this, ask for fewer


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Refuse an output path that is a folder, lies under a file, or exists without --overwrite."""
    if path.is_dir():
        raise SharedLatentError(f"output path {path} is a folder; name a file")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise SharedLatentError(f"output file {path} cannot be created: {parent} is a file")
    if path.exists() and not overwrite:
        raise SharedLatentError(f"output file {path} already exists; pass --overwrite to replace it")


def refuse_same_file(source: Path, output: Path) -> None:
    """Refuse writing over the input, whatever the spelling of the path (.., links): the input would be lost."""
    same = Path(os.path.realpath(source)) == Path(os.path.realpath(output))
    if not same and source.exists() and output.exists():
        try:
            same = os.path.samefile(source, output)
        except OSError:
            same = False
    if same:
        raise SharedLatentError(f"output file {output} is the input file {source}; name another output")


def check_generation_size(n_samples: int, input_sizes: Mapping[str, int]) -> None:
    """Refuse a sample count whose float32 arrays would not fit the bound, saying how much it would need."""
    needed = n_samples * sum(input_sizes.values()) * 4
    if needed > MAX_GENERATED_BYTES:
        most = MAX_GENERATED_BYTES // (4 * sum(input_sizes.values()))
        raise SharedLatentError(
            f"generating {n_samples} samples needs {needed / 1024**3:.1f} GiB of memory; "
            f"ask for at most {most} per call (-n)"
        )


def write_file_set(targets: Mapping[str, Path], write: Callable[[str, Path], None]) -> None:
    """Write every target to a temporary beside it, then rename them all; on failure the old files stay as they were."""
    temporaries: dict[str, Path] = {}
    try:
        for name, path in targets.items():
            temporary = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
            temporaries[name] = temporary
            write(name, temporary)
        for name, path in targets.items():
            os.replace(temporaries[name], path)
    finally:
        for temporary in temporaries.values():
            if temporary.exists():
                temporary.unlink()
