"""The CLI on .h5ad / .h5mu cells: `encode` (latent coordinates per cell) and translate's object path
(--layer / --obsm, obs and provenance kept); both read each domain where the model was trained, unless told."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.runs.record import RunRecord
from sharedlatent.runs.registration import ANNDATA_LOADERS, run_registration

OBJECT_SUFFIXES = (".h5ad", ".h5mu")
ENCODE_OUTPUTS = (".h5ad", ".h5mu", ".csv")


def add_encode_parser(commands: Any) -> None:
    encode = commands.add_parser("encode", help="write the latent coordinates of .h5ad / .h5mu cells")
    encode.add_argument("run", type=Path)
    encode.add_argument("--input", required=True, type=Path, help=".h5mu (a modality per domain) or .h5ad")
    encode.add_argument(
        "--output",
        required=True,
        type=Path,
        help=".h5ad (input's obs, obsm X_sharedlatent), .h5mu (an .h5mu input whole, obsm X_sharedlatent added) or .csv",
    )
    encode.add_argument("--domain", help="the domain an .h5ad holds (default: recognised by its var_names)")
    add_matrix_options(encode)
    encode.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def add_matrix_options(parser: argparse.ArgumentParser) -> None:
    """--layer / --obsm: where each domain's values are, when not where the model was trained on them."""
    parser.add_argument("--layer", help="read this layer (X for X itself) instead of the one the model was trained on")
    parser.add_argument("--obsm", help="read this obsm key instead of the matrix the model was trained on")


def run_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from sharedlatent.runs.folder import load_run
    from sharedlatent.runs.outputs import refuse_existing, refuse_same_file
    from sharedlatent.scverse.latent import LATENT_KEY

    suffix = args.output.suffix.lower()
    if suffix not in ENCODE_OUTPUTS:
        raise SharedLatentError(f"output file {args.output} must end in one of {', '.join(ENCODE_OUTPUTS)}")
    if suffix == ".h5mu" and args.input.suffix.lower() != ".h5mu":
        raise SharedLatentError(
            f"an .h5mu output keeps an .h5mu input whole; for {args.input.name} write .h5ad or .csv"
        )
    refuse_same_file(args.input, args.output)
    refuse_existing(args.output, args.overwrite)
    model, record = load_run(args.run)
    attach_registration(model, record)
    data = read_object(args.input)
    with cli_words():
        frame = model.get_latent(data, domain=args.domain, **matrix_choice(args))
    unmeasured = int(np.isnan(frame.to_numpy()).any(axis=1).sum())
    if suffix == ".csv":
        write_csv(args.output, frame)
    elif suffix == ".h5mu":
        write_latent_h5mu(args.output, data, frame.reindex(data.obs_names).to_numpy(), provenance(args, "encode"))
    else:
        write_latent_h5ad(args.output, data.obs.reindex(frame.index), frame.to_numpy(), provenance(args, "encode"))
    note = f"; {unmeasured} cells measured in none of the model's domains are NaN" if unmeasured else ""
    print(f"wrote {LATENT_KEY} ({frame.shape[0]} cells x {frame.shape[1]}) to {args.output}{note}")
    return 0


def translate_objects(args: argparse.Namespace, model: Any, record: RunRecord) -> int | None:
    """Translate .h5ad / .h5mu cells as objects (None when the input is not one, or the run was not trained by the
    h5ad / h5mu loaders and no --layer / --obsm is given: the array path then reads X)."""
    if args.input.suffix.lower() not in OBJECT_SUFFIXES:
        if args.layer or args.obsm:
            raise SharedLatentError(f"--layer and --obsm apply to .h5ad / .h5mu input, not {args.input.name}")
        return None
    attach_registration(model, record)
    if record.dataset not in ANNDATA_LOADERS and not (args.layer or args.obsm):
        return None
    import numpy as np

    from sharedlatent.scverse.translation import IMPUTED_COLUMN, PROVENANCE_KEY

    if args.cycle and args.transform_batch is not None:
        raise SharedLatentError("--cycle comes back in the cells' own batch: drop --transform-batch")
    data = read_object(args.input)
    options = {"model_name": str(args.run), "batch": args.batch, **matrix_choice(args)}
    with cli_words():
        if args.cycle:  # read where the model reads the source (a counts layer), obs kept, as translate does
            result = model.cycle(data, args.source, args.target, **options)
        else:
            result = model.translate(data, args.source, args.target, transform_batch=args.transform_batch, **options)
    result.uns[PROVENANCE_KEY].update(provenance(args, "translate"))
    if args.output.suffix.lower() == ".h5mu":
        write_translation_h5mu(args, data, result)
    elif args.output.suffix.lower() == ".h5ad":
        from sharedlatent.storage import atomic_path

        with atomic_path(args.output) as temporary:
            result.write_h5ad(temporary)
    else:
        from sharedlatent.runs.sample_files import write_samples

        write_samples(args.output, result.X, list(result.var_names), np.asarray(result.obs_names))
    flagged = int(result.obs[IMPUTED_COLUMN].sum())
    what = (
        f"{args.source} -> {args.target} -> {args.source}"
        if args.cycle
        else f"{flagged} cells without a measured {args.target}"
    )
    where = f" as modality {translation_modality(args)!r}" if args.output.suffix.lower() == ".h5mu" else ""
    print(f"wrote {result.n_obs} x {result.n_vars} to {args.output}{where} ({what})")
    return 0


def translation_modality(args: argparse.Namespace) -> str:
    """The modality a translation adds to an .h5mu: TARGET_from_SOURCE, or SOURCE_via_TARGET for --cycle."""
    return f"{args.source}_via_{args.target}" if args.cycle else f"{args.target}_from_{args.source}"


def write_translation_h5mu(args: argparse.Namespace, data: Any, result: Any) -> None:
    """The input cells with the translation added as one more modality (translation_modality), which carries its
    provenance in its own uns: an .h5mu input whole (modalities, obs, obsm, uns), an .h5ad input as the source
    modality; nothing of the input is changed."""
    from sharedlatent.datasets.anndata_files import import_mudata
    from sharedlatent.storage import atomic_path

    mudata = import_mudata()
    modality = translation_modality(args)
    if isinstance(data, mudata.MuData) and modality in data.mod:
        raise SharedLatentError(
            f"{args.input} already has a modality {modality!r}; rename it, or write the translation to .h5ad"
        )
    # mudata 0.3 announces a change of its obs pulling, and notes that the translation's var_names repeat the target
    # modality's (as they should: the same features, compared by name); neither is the user's to act on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="Cannot join columns with the same name", category=UserWarning)
        combined = data if isinstance(data, mudata.MuData) else mudata.MuData({args.source: data})
        combined.mod[modality] = result
        combined.update()
    with atomic_path(args.output) as temporary:
        combined.write_h5mu(temporary)


@contextmanager
def cli_words() -> Iterator[None]:
    """Errors whose fix the command line names differently (`--transform-batch LABEL` for `transform_batch=`) in its
    words."""
    try:
        yield
    except SharedLatentError as error:
        if error.cli is None:
            raise
        raise SharedLatentError(error.cli) from None


def attach_registration(model: Any, record: RunRecord) -> None:
    """A run trained by the h5ad / h5mu loaders reads new cells as they were read: the same modality, layer or
    obsm key, feature names and batch_key obs column (newer runs and models saved from the Python API carry
    this registration in the model file; older runs rebuild it from run.json)."""
    if model.registration is not None or record.dataset not in ANNDATA_LOADERS:
        return
    model.registration = run_registration(record.dataset, record.data_options, record.input_sizes, record.feature_names)


def matrix_choice(args: argparse.Namespace) -> dict[str, Any]:
    """--layer / --obsm as get_latent / translate options (for an .h5mu they apply to every domain read)."""
    return {"layer": args.layer, "obsm": args.obsm}


def read_object(path: Path) -> Any:
    """An .h5mu as MuData or an .h5ad as AnnData, or one line saying why not."""
    from sharedlatent.datasets.anndata_files import import_anndata, import_mudata

    if not path.is_file():
        raise SharedLatentError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in OBJECT_SUFFIXES:
        raise SharedLatentError(f"input file {path} must be .h5mu or .h5ad")
    try:
        data = import_mudata().read_h5mu(path) if suffix == ".h5mu" else import_anndata().read_h5ad(path)
    except (OSError, ValueError, KeyError) as error:
        raise SharedLatentError(f"cannot read {path}: {error}") from None
    if data.n_obs == 0:  # a mistake on the command line, not a request for an empty output
        raise SharedLatentError(f"input {path} holds no cells (0 obs)")
    return data


def provenance(args: argparse.Namespace, command: str) -> dict[str, str]:
    from sharedlatent import __version__

    return {"command": command, "run": str(args.run), "input": str(args.input), "sharedlatent_version": __version__}


def write_csv(path: Path, frame: Any) -> None:
    from sharedlatent.storage import atomic_path

    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index_label="sample_id")  # as translate names its ID column


def write_latent_h5mu(path: Path, data: Any, latent: Any, uns: dict[str, str]) -> None:
    """The input MuData whole (every modality, obs, obsm, uns) with the latent coordinates added to its own obsm,
    where muon and scanpy look for a joint embedding, and uns["sharedlatent"] set to this encode's provenance."""
    from sharedlatent.scverse.latent import LATENT_KEY
    from sharedlatent.scverse.translation import PROVENANCE_KEY
    from sharedlatent.storage import atomic_path

    data.obsm[LATENT_KEY] = latent
    data.uns[PROVENANCE_KEY] = uns
    with atomic_path(path) as temporary:
        data.write_h5mu(temporary)


def write_latent_h5ad(path: Path, obs: Any, latent: Any, uns: dict[str, str]) -> None:
    """An .h5ad with the input's obs, no X, and the latent coordinates in obsm."""
    import anndata

    from sharedlatent.scverse.latent import LATENT_KEY
    from sharedlatent.scverse.translation import PROVENANCE_KEY
    from sharedlatent.storage import atomic_path

    adata = anndata.AnnData(obs=obs.copy(), obsm={LATENT_KEY: latent}, uns={PROVENANCE_KEY: uns})
    with atomic_path(path) as temporary:
        adata.write_h5ad(temporary)
