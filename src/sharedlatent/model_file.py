"""Check a model file before anything is built from it: metadata against tensor shapes, and every number finite.

SharedLatentVAE.load trusts its metadata (a width of 40,000 allocates gigabytes); this reads only the safetensors
header first, so a lying or damaged file is refused with one sentence before any memory is spent on it."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.plain_values import FLOAT32_MAX
from sharedlatent.storage import DIGEST_KEY, METADATA_KEY, weights_digest

# Of the metadata record a model file carries. 2 (0.6.0): the preprocessings' `nonnegative` flags, which readers
# of version 1 refuse as an unknown key, and a checksum (storage.weights_digest); 3 (0.7.0): count domains' library
# predictors (`library`, library_prediction.py). Versions 1 and 2 read as before (a constant library).
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
METADATA_KEYS = {"format_version", "config", "input_sizes", "latent_box", "preprocessors"}
# where AnnData / MuData input is read, and the batch labels; files written before them lack them
OPTIONAL_KEYS = {"registration", "batch", "covariates", "library"}
REGISTRATION_KEYS = {"modality", "layer", "obsm", "var_names"}  # per domain (scverse/registration.py)
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit


def check_model_file(path: str | Path) -> dict[str, Any]:
    """The metadata of a model file once it is proven consistent with the tensors and finite; else an error."""
    return read_model_file(path)[0]


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metadata and tensors of a model file, read once and checked (so the tensors used are those checked,
    even if the file changes meanwhile); else a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SharedLatentError(f"model file {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SharedLatentError(f"model file {path} cannot be read: {error.strerror}") from None
    length = _header_length(path, data[:8], len(data))
    shapes, metadata, text, digest = _parse_header(path, data[8 : 8 + length], len(data) - 8 - length)
    config = _checked_config(path, metadata)
    _check_shapes(path, config, metadata["input_sizes"], shapes)
    tensors = _finite_tensors(path, data)
    _check_preprocessors(path, metadata["preprocessors"], metadata["input_sizes"])
    _check_latent_box(path, metadata["latent_box"], config.model.latent_size)
    _check_batch(path, metadata.get("batch"), config.model.batch_categories)
    _check_registration(path, metadata.get("registration"), metadata["input_sizes"])
    _check_covariates(path, metadata.get("covariates"), config.model.continuous_covariates)
    _check_library(path, metadata.get("library"), config, metadata.get("format_version"))
    _check_digest(path, digest, metadata, text, tensors)  # last: a malformed part is named by its own check first
    return metadata, tensors


def read_header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, Any]]:
    """Tensor shapes and our metadata record from a safetensors header, with offsets checked against the file size."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        length = _header_length(path, handle.read(8), size)
        raw = handle.read(length)
    shapes, metadata, _, _ = _parse_header(path, raw, size - 8 - length)
    return shapes, metadata


def _header_length(path: Path, prefix: bytes, size: int) -> int:
    """The header length the file's first 8 bytes give, if it fits the file."""
    length = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
    if length < 2 or length > min(MAX_HEADER_BYTES, size - 8):
        raise SharedLatentError(f"{path} is not a readable safetensors model file (bad header length)")
    return length


def _parse_header(
    path: Path, raw: bytes, data_bytes: int
) -> tuple[dict[str, tuple[int, ...]], dict[str, Any], str, str | None]:
    """Tensor shapes (checked against the `data_bytes` after the header), our metadata record, its text, and the
    file's checksum (None in files written before it)."""
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SharedLatentError(f"{path} is not a readable safetensors model file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise SharedLatentError(f"{path} is not a readable safetensors model file (header is not a table)")
    extra = header.pop("__metadata__", None) or {}
    shapes = _tensor_shapes(path, header, data_bytes)
    if not isinstance(extra, dict) or METADATA_KEY not in extra:
        raise SharedLatentError(f"{path} has no sharedlatent metadata; was it written by sharedlatent?")
    try:
        metadata = json.loads(extra[METADATA_KEY])
    except (TypeError, ValueError, RecursionError):
        raise SharedLatentError(f"{path}: the sharedlatent metadata is not JSON") from None
    if not isinstance(metadata, dict):
        raise SharedLatentError(f"{path}: the sharedlatent metadata is not a table")
    return shapes, metadata, extra[METADATA_KEY], extra.get(DIGEST_KEY)


def _tensor_shapes(path: Path, header: dict[str, Any], data_bytes: int) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape, checking dtype, shape and byte offsets agree and stay inside the file."""
    shapes = {}
    for name, entry in header.items():
        try:
            shape = tuple(int(n) for n in entry["shape"])
            begin, end = (int(n) for n in entry["data_offsets"])
            width = DTYPE_BYTES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise SharedLatentError(f"{path}: tensor {name!r} has a malformed header entry") from None
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= data_bytes or end - begin != math.prod(shape) * width:
            raise SharedLatentError(f"{path}: tensor {name!r} does not fit its shape {list(shape)} or the file")
        shapes[name] = shape
    return shapes


def _checked_config(path: Path, metadata: dict[str, Any]) -> Any:
    """The RunConfig the metadata describes, after checking its keys, version and input sizes."""
    from sharedlatent.config import RunConfig

    if metadata.get("format_version") not in READABLE_VERSIONS:
        raise SharedLatentError(
            f"{path} has format version {metadata.get('format_version')!r}, this sharedlatent reads"
            f" {' and '.join(map(str, READABLE_VERSIONS))}"
        )
    missing, unknown = sorted(METADATA_KEYS - set(metadata)), sorted(set(metadata) - METADATA_KEYS - OPTIONAL_KEYS)
    if missing or unknown:
        raise SharedLatentError(f"{path}: model metadata lacks keys {missing} or has unknown keys {unknown}")
    sizes = metadata["input_sizes"]
    if not isinstance(sizes, dict) or not all(type(n) is int and n > 0 for n in sizes.values()):
        raise SharedLatentError(f"{path}: input_sizes must map domain names to positive integers, got {sizes!r}")
    if not isinstance(metadata["config"], dict):
        raise SharedLatentError(f"{path}: the model config is not a table")
    try:
        config = RunConfig.from_dict(metadata["config"])
        config.validate(sizes)
    except SharedLatentError as error:
        raise SharedLatentError(f"{path}: {error}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise SharedLatentError(f"{path}: the model config is malformed: {error}") from None
    return config


def _check_shapes(path: Path, config: Any, input_sizes: dict[str, int], shapes: dict[str, tuple[int, ...]]) -> None:
    """The network the metadata describes must have exactly the file's tensors; built on torch's meta device."""
    import torch

    from sharedlatent.auto_settings import provisional
    from sharedlatent.nn.model import SharedLatentModule

    model = config.model
    widths = [model.latent_size, *model.shared_widths, *input_sizes.values()]
    widths += [w for name in input_sizes for w in model.widths_for(name)]
    stored = sum(math.prod(shape) for shape in shapes.values())
    if max(widths) > stored:  # every layer width costs at least that many parameters
        raise SharedLatentError(f"{path}: the metadata describes layers wider ({max(widths)}) than the file's tensors")
    with torch.device("meta"):
        # The same constructor SharedLatentVAE uses, so the expected shapes cannot drift from the real ones.
        module = SharedLatentModule.from_config(provisional(model, list(input_sizes)), input_sizes)
    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    for name in sorted(set(expected) | set(shapes)):
        if expected.get(name) != shapes.get(name):
            raise SharedLatentError(
                f"{path}: tensor {name!r} has shape {shapes.get(name)}, its metadata implies {expected.get(name)}"
            )


def _finite_tensors(path: Path, data: bytes) -> dict[str, Any]:
    """The tensors in the file's bytes; NaN or infinite weights, which would turn every output into NaN without a
    word, are refused."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, OSError, ValueError) as error:
        raise SharedLatentError(f"{path} is not a readable safetensors model file: {error}") from None
    for name, tensor in tensors.items():
        if tensor.dtype != torch.float32:  # sharedlatent writes float32 only; other bytes would be reread as it
            raise SharedLatentError(f"{path}: tensor {name!r} is {tensor.dtype}, not float32")
        if not bool(torch.isfinite(tensor).all()):
            raise SharedLatentError(f"{path}: tensor {name!r} holds NaN or infinite values")
    return tensors


def _check_digest(
    path: Path, digest: str | None, metadata: dict[str, Any], metadata_text: str, tensors: dict[str, Any]
) -> None:
    """The weights and metadata are the ones saved: their checksum matches the one written with them (version 1
    files, written before the checksum, have none and are read as before)."""
    if digest is None and metadata["format_version"] >= 2:  # every writer of version 2 adds one
        raise SharedLatentError(f"model file {path} is damaged: its checksum is missing; restore a copy or retrain")
    if digest is not None and digest != weights_digest(tensors, metadata_text):
        raise SharedLatentError(
            f"model file {path} is damaged: its weights or metadata do not match the checksum saved with them; restore"
            " a copy or retrain"
        )


def _check_preprocessors(path: Path, stored: Any, input_sizes: dict[str, int]) -> None:
    """One preprocessor per domain, readable, with finite parameters of a per-feature or global length."""
    from sharedlatent.preprocessing import preprocessor_from_dict

    if not isinstance(stored, dict) or set(stored) != set(input_sizes):
        raise SharedLatentError(f"{path}: preprocessors must name the domains {sorted(input_sizes)}")
    for name, values in stored.items():
        where = f"{path}: preprocessing of domain {name!r}"
        if not isinstance(values, dict):
            raise SharedLatentError(f"{where} is not a table")
        for key, numbers in values.items():
            if key == "name" or numbers is None:
                continue
            if not _finite_list(numbers) or len(numbers) not in (1, input_sizes[name]):
                raise SharedLatentError(f"{where}: {key} must be 1 or {input_sizes[name]} finite numbers")
        try:
            preprocessor_from_dict(values)
        except SharedLatentError as error:
            raise SharedLatentError(f"{where}: {error}") from None


def _check_latent_box(path: Path, box: Any, latent_size: int) -> None:
    """None, or two lists of `latent_size` finite numbers with low <= high."""
    if box is None:
        return
    if not (isinstance(box, list) and len(box) == 2 and all(_finite_list(side) for side in box)):
        raise SharedLatentError(f"{path}: latent_box must be two lists of finite numbers")
    low, high = box
    if len(low) != latent_size or len(high) != latent_size or any(a > b for a, b in zip(low, high, strict=True)):
        raise SharedLatentError(f"{path}: latent_box must be {latent_size} lows and {latent_size} highs, low <= high")


def _check_batch(path: Path, batch: Any, width: int) -> None:
    """A batch model's record: 1 to batch_categories distinct string labels and an obs column name or None."""
    if batch is None:
        if width:
            raise SharedLatentError(f"{path}: the model has {width} batch categories but no batch labels")
        return
    if not (isinstance(batch, dict) and set(batch) == {"labels", "obs_key"}):
        raise SharedLatentError(f"{path}: the batch record must hold exactly labels and obs_key")
    labels, obs_key = batch["labels"], batch["obs_key"]
    if not (isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels)):
        raise SharedLatentError(f"{path}: batch labels must be a non-empty list of strings")
    if len(set(labels)) != len(labels) or len(labels) > width:
        raise SharedLatentError(f"{path}: batch labels must be distinct and at most batch_categories ({width})")
    if obs_key is not None and not isinstance(obs_key, str):
        raise SharedLatentError(f"{path}: the batch obs_key must be a column name or null")


def _check_registration(path: Path, registration: Any, input_sizes: dict[str, int]) -> None:
    """None, or per known domain its modality, layer and obsm key (names or null) and one name per feature (or null)."""
    if registration is None:
        return
    where = f"{path}: the registration"
    if not isinstance(registration, dict) or not set(registration) <= set(input_sizes):
        raise SharedLatentError(f"{where} must map some of the domains {sorted(input_sizes)} to their records")
    for name, spec in registration.items():
        if not (isinstance(spec, dict) and set(spec) == REGISTRATION_KEYS):
            raise SharedLatentError(f"{where} of domain {name!r} must hold exactly {sorted(REGISTRATION_KEYS)}")
        if not all(spec[key] is None or isinstance(spec[key], str) for key in ("modality", "layer", "obsm")):
            raise SharedLatentError(f"{where} of domain {name!r}: modality, layer and obsm must be names or null")
        if spec["layer"] and spec["obsm"]:
            raise SharedLatentError(f"{where} of domain {name!r} names both a layer and an obsm key")
        names = spec["var_names"]
        if names is not None and not (
            isinstance(names, list) and len(names) == input_sizes[name] and all(isinstance(n, str) for n in names)
        ):
            raise SharedLatentError(
                f"{where} of domain {name!r}: var_names must be {input_sizes[name]} strings or null"
            )


def _check_covariates(path: Path, record: Any, width: int) -> None:
    """A covariate model's record: `width` distinct names, finite means, finite positive stds, obs keys or None."""
    if record is None:
        if width:
            raise SharedLatentError(f"{path}: the model has {width} continuous covariates but no covariate record")
        return
    if not (isinstance(record, dict) and set(record) == {"names", "mean", "std", "obs_keys"}):
        raise SharedLatentError(f"{path}: the covariate record must hold exactly names, mean, std and obs_keys")
    names, mean, std, keys = record["names"], record["mean"], record["std"], record["obs_keys"]
    if not (isinstance(names, list) and all(isinstance(name, str) for name in names) and len(set(names)) == width):
        raise SharedLatentError(
            f"{path}: covariate names must be {width} distinct strings (model.continuous_covariates)"
        )
    if not (_finite_list(mean) and _finite_list(std) and len(mean) == len(std) == width and all(s > 0 for s in std)):
        raise SharedLatentError(f"{path}: covariate mean and std must be {width} finite numbers each, std above 0")
    if keys is not None and keys != names:
        raise SharedLatentError(f"{path}: covariate obs_keys must equal the covariate names or be null")


def _check_library(path: Path, library: Any, config: Any, version: Any) -> None:
    """None, or (format 3 on) per count domain of the model whose library is observed its predictor's checked
    numbers: one weight per latent dimension and covariate column."""
    from sharedlatent.library_prediction import LibraryPredictor, regressor_width
    from sharedlatent.names import COUNT_LIKELIHOODS, canonical

    if library is None:
        return
    if version in (1, 2):
        raise SharedLatentError(f"{path}: a format {version} model file holds no library predictors, this one does")
    if not isinstance(library, dict):
        raise SharedLatentError(f"{path}: library must map count domains to predictors")
    model = config.model
    width = regressor_width(model)
    for name, values in library.items():
        counts = name in model.domains and canonical(model.likelihood_for(name)) in COUNT_LIKELIHOODS
        if not counts or model.domains[name].library == "learned":
            raise SharedLatentError(
                f"{path}: library names {name!r}, which is not a count domain of the model with an observed library"
            )
        LibraryPredictor.from_dict(values, width, f"{path}: library of domain {name!r}")


def _finite_list(values: Any) -> bool:
    """A list of numbers that stay finite as float32."""
    return isinstance(values, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= FLOAT32_MAX
        for v in values
    )
