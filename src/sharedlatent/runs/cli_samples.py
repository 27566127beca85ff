"""The commands that read or write sample files: `translate` (array files, or AnnData / MuData through
cli_objects.py) and `generate`. Heavy modules load inside the run functions so that `--help` stays fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import GENERATION_METHODS
from sharedlatent.runs.batches import add_batch_options
from sharedlatent.runs.cli_objects import add_matrix_options, translate_objects

GENERATE_SUFFIXES = (".npz", ".h5mu", ".npy", ".csv", ".tsv", ".parquet", ".h5ad")
Subparsers = Any  # argparse's _SubParsersAction, which it does not export


def add_translate_parser(commands: Subparsers) -> None:
    translate = commands.add_parser("translate", help="translate samples from one domain into another")
    translate.add_argument("run", type=Path)
    translate.add_argument("--source", required=True)
    translate.add_argument("--target", required=True)
    translate.add_argument("--input", required=True, type=Path, help=".npy, .csv, .tsv, .parquet, .npz, .h5ad or .h5mu")
    translate.add_argument(
        "--output",
        required=True,
        type=Path,
        help="same formats, columns named by the target domain; an .h5mu (from .h5ad / .h5mu input) is the input "
        "with the translation added as modality TARGET_from_SOURCE",
    )
    translate.add_argument(
        "--cycle", action="store_true", help="translate there and back (output in the source domain)"
    )
    translate.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    translate.add_argument(
        "--id-column", help="a table's sample-ID column (default: one named like an ID); the output keeps its name"
    )
    translate.add_argument(
        "--label-column",
        help="a table's label column, left out of the values (default: the run's label_column, where the file has it)",
    )
    add_matrix_options(translate)
    add_batch_options(translate)


def run_translate(args: argparse.Namespace) -> int:
    from sharedlatent.runs.batches import refuse_labels_without_batches
    from sharedlatent.runs.folder import load_run
    from sharedlatent.runs.outputs import refuse_existing, refuse_same_file
    from sharedlatent.runs.sample_files import aligned_values, read_samples, write_samples

    refuse_same_file(args.input, args.output)
    refuse_existing(args.output, args.overwrite)
    check_translation_output(args.output, args.input)
    model, record = load_run(args.run)
    refuse_labels_without_batches(model, args)
    if (done := translate_objects(args, model, record)) is not None:
        return done
    label_column = args.label_column or (record.data_options or {}).get("label_column")
    width, names = record.input_sizes.get(args.source), record.feature_names.get(args.source)
    samples = read_samples(args.input, args.id_column, label_column, args.source, width, names)
    inputs, note = aligned_values(
        samples, record.feature_names.get(args.source), f"{args.input} (domain {args.source!r})"
    )
    if note:
        print(note, file=sys.stderr)
    values = _translated(args, model, inputs)
    names = record.feature_names.get(args.source if args.cycle else args.target)
    if args.output.suffix.lower() == ".h5mu":  # an .h5ad read as an array: the translation joins it as a modality
        _write_array_translation_h5mu(args, values, names, samples.sample_ids)
    else:
        write_samples(args.output, values, names or None, samples.sample_ids, samples.id_column)
    print(f"wrote {values.shape[0]} x {values.shape[1]} to {args.output}{_as_modality(args)}")
    return 0


def _as_modality(args: argparse.Namespace) -> str:
    """The ", as modality NAME" suffix of the summary line when the output is an .h5mu, else nothing."""
    from sharedlatent.runs.cli_objects import translation_modality

    return f" as modality {translation_modality(args)!r}" if args.output.suffix.lower() == ".h5mu" else ""


def check_translation_output(output: Path, input_path: Path) -> None:
    """Refuse, before any work, an output format translate cannot write: tables, .h5ad, and .h5mu from cells given
    as .h5ad / .h5mu (the translation joins them as a modality)."""
    from sharedlatent.datasets.tables import table_kind
    from sharedlatent.runs.cli_objects import OBJECT_SUFFIXES

    suffix = output.suffix.lower()
    if suffix == ".h5mu" and input_path.suffix.lower() not in OBJECT_SUFFIXES:
        raise SharedLatentError(
            f"--output {output.name}: an .h5mu adds the translation to the input's cells as a modality, so it needs "
            f".h5ad or .h5mu --input, not {input_path.name}; write .csv, .npy or .h5ad instead"
        )
    if suffix not in OBJECT_SUFFIXES:
        try:
            table_kind(output)
        except SharedLatentError:
            raise SharedLatentError(
                f"--output {output.name}: unknown format; write .csv, .tsv, .parquet, .npz, .npy, .h5ad or .h5mu"
            ) from None


def _write_array_translation_h5mu(args: argparse.Namespace, values: Any, names: list[str] | None, ids: Any) -> None:
    """An .h5ad input read as an array (a run not trained on AnnData): the input with the translation as a modality."""
    import numpy as np

    from sharedlatent.datasets.anndata_files import import_anndata
    from sharedlatent.runs.cli_objects import provenance, read_object, write_translation_h5mu
    from sharedlatent.scverse.translation import PROVENANCE_KEY

    data = read_object(args.input)
    names = names or [f"feature_{i}" for i in range(values.shape[1])]
    result = import_anndata().AnnData(np.asarray(values, dtype=np.float32))
    result.obs_names = np.asarray(ids).astype(str) if ids is not None else np.asarray(data.obs_names)
    result.var_names = list(map(str, names))
    result.uns[PROVENANCE_KEY] = provenance(args, "translate")
    write_translation_h5mu(args, data, result)


def _translated(args: argparse.Namespace, model: Any, inputs: Any) -> Any:
    """Array input translated, or cycled back with --cycle; a batch model's labels come from --batch (one for all
    samples) and --transform-batch, or the command is refused in one line."""
    from sharedlatent.runs.batches import require_labels

    if args.cycle:
        if args.transform_batch is not None:
            raise SharedLatentError("--cycle comes back in the input's own batch: give --batch, not --transform-batch")
        require_labels(model, args.batch, "--batch LABEL (the input's batch; one label for all its samples)")
        return model.cycle(inputs, args.source, args.target, batch=args.batch)
    require_labels(model, args.batch or args.transform_batch, "--batch LABEL (the input's) or --transform-batch LABEL")
    return model.translate(inputs, args.source, args.target, batch=args.batch, transform_batch=args.transform_batch)


def add_generate_parser(commands: Subparsers) -> None:
    generate = commands.add_parser("generate", help="generate new paired samples")
    generate.add_argument("run", type=Path)
    generate.add_argument("-n", "--n-samples", type=int, default=10)
    generate.add_argument(
        "--output",
        required=True,
        type=Path,
        help="an .npz (an array per domain) or .h5mu (a modality per domain), or FILE.csv/.npy/.h5ad giving "
        "FILE_<domain>.csv and so on",
    )
    generate.add_argument(
        "--method",
        choices=GENERATION_METHODS,
        default="box",
        help="box: inside the training encodings' range (the original); prior: N(0, I)",
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--overwrite", action="store_true")
    add_batch_options(generate, samples=False)


def run_generate(args: argparse.Namespace) -> int:
    import numpy as np

    from sharedlatent.runs.batches import refuse_labels_without_batches, require_labels
    from sharedlatent.runs.folder import load_run
    from sharedlatent.runs.outputs import check_generation_size, refuse_existing, write_file_set
    from sharedlatent.runs.sample_files import write_samples

    suffix = args.output.suffix.lower()
    if suffix not in GENERATE_SUFFIXES:
        raise SharedLatentError(f"output file {args.output} must end in one of {', '.join(GENERATE_SUFFIXES)}")
    if suffix in (".npz", ".h5mu"):  # one file holds every domain
        targets = {"": args.output}
    else:
        targets = {
            name: args.output.with_name(f"{args.output.stem}_{name}{args.output.suffix}") for name in _domains(args.run)
        }
    for path in targets.values():
        refuse_existing(path, args.overwrite)
    model, record = load_run(args.run)
    check_generation_size(args.n_samples, model.input_sizes)
    refuse_labels_without_batches(model, args)
    require_labels(model, args.transform_batch, "--transform-batch LABEL (the batch to generate samples of)")
    generated = model.generate(args.n_samples, method=args.method, seed=args.seed, transform_batch=args.transform_batch)
    if suffix == ".npz":
        write_file_set(targets, lambda _, path: _save_npz(path, generated))
        print(f"wrote {args.n_samples} generated {_joint_samples(generated)} ({', '.join(generated)}) to {args.output}")
        return 0
    ids = np.array([f"generated_{i}" for i in range(args.n_samples)])  # row i of every domain is one pair
    if suffix == ".h5mu":
        from sharedlatent.datasets.anndata_files import write_h5mu

        names = {
            name: record.feature_names.get(name) or [f"{name}_{i}" for i in range(size)]
            for name, size in model.input_sizes.items()
        }
        told = {"sharedlatent": _generated_with(args, None)}
        write_file_set(targets, lambda _, path: write_h5mu(path, generated, ids, names, uns=told))
        print(
            f"wrote {args.n_samples} generated {_joint_samples(generated)} ({', '.join(generated)} as modalities) "
            f"to {args.output}"
        )
        return 0
    h5ad = suffix == ".h5ad"  # names its cells and says how it was made; a table holds the values only

    def write(name: str, path: Path) -> Path:
        told = {"sharedlatent": _generated_with(args, name)} if h5ad else None
        names = record.feature_names.get(name) or None
        return write_samples(path, generated[name], names, ids if h5ad else None, uns=told)

    write_file_set(targets, write)
    for name, path in targets.items():
        print(f"wrote {args.n_samples} generated {name} samples to {path}")
    return 0


def _generated_with(args: argparse.Namespace, domain: str | None) -> dict[str, str]:
    """What a generated .h5ad (one `domain`) or .h5mu (None: all) says about itself in uns["sharedlatent"]: the
    command, run, domain and settings."""
    from sharedlatent import __version__

    told = {"command": "generate", "run": str(args.run), **({"domain": domain} if domain else {})}
    told |= {"method": args.method, "seed": str(args.seed)}
    if args.transform_batch is not None:
        told["transform_batch"] = str(args.transform_batch)
    return {**told, "sharedlatent_version": __version__}


def _joint_samples(generated: dict[str, Any]) -> str:
    """What one generated row is: a pair for two domains, a triple and so on beyond."""
    return {2: "pairs", 3: "triples"}.get(len(generated), f"joint samples of {len(generated)} domains")


def _domains(run: Path) -> list[str]:
    """The domain names a run folder's record lists (generate names its output files after them)."""
    from sharedlatent.runs.record import read_record

    return read_record(run).domains


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """An NPZ at exactly `path` (numpy appends ".npz" to a name that does not end so in lower case)."""
    import numpy as np

    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
