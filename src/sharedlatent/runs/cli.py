"""The command line: parse, call the library, print; user errors are one line on stderr and exit code 2.

Each command has an `add_<command>_parser` next to its `run_<command>`; heavy modules load inside the run functions
so that `--help` and argument errors stay fast."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as _dt
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import DEVICES, SCHEDULES, SPLITS, accepted
from sharedlatent.runs.cli_guards import (
    EXIT_STDOUT_CLOSED,
    Terminated,
    deprecations_as_notes,
    discard_stdout,
    os_error_line,
    sigterm_as_interrupt,
    stdout_closed,
)
from sharedlatent.runs.cli_objects import add_encode_parser, run_encode
from sharedlatent.runs.cli_samples import add_generate_parser, add_translate_parser, run_generate, run_translate

EXIT_USER_ERROR = 2
Subparsers = Any  # argparse's _SubParsersAction, which it does not export


def parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """KEY=VALUE strings into a dict, or an error naming the flag."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SharedLatentError(f"{flag} expects KEY=VALUE, got {pair!r}")
        if key.strip() in parsed and parsed[key.strip()] != value.strip():  # neither silently wins
            raise SharedLatentError(
                f"{flag} sets {key.strip()} twice ({parsed[key.strip()]} and {value.strip()}); give one"
            )
        parsed[key.strip()] = value.strip()
    return parsed


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one `error:` line (exit 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `sharedlatent` parser: one subcommand per entry of COMMANDS."""
    parser = OneLineArgumentParser(
        prog="sharedlatent", description="Shared latent space VAEs: train, translate, generate, evaluate."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineArgumentParser
    )
    for add_parser, _ in COMMANDS.values():
        add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse exits by itself on a bad command line)."""
    args = build_parser().parse_args(argv)
    try:
        with deprecations_as_notes(), sigterm_as_interrupt():
            code = COMMANDS[args.command][1](args)
        if sys.stdout is not None:  # what is still buffered fails here (`| head`, a full disk), where it is handled
            sys.stdout.flush()
        return code
    except SharedLatentError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError as error:
        if not stdout_closed():  # another pipe or socket: an error like any other
            print(f"error: {os_error_line(error)}", file=sys.stderr)
            return EXIT_USER_ERROR
        discard_stdout()  # the reader (`| head`) has what it wanted: stop quietly, as other command-line tools do
        return EXIT_STDOUT_CLOSED
    except OSError as error:  # read-only or full disk, name too long, a path under a file: the system's words
        print(f"error: {os_error_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Terminated as stop:
        print(f"error: terminated (SIGTERM); nothing half-written was left behind{_hint(stop)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt as stop:
        print(f"error: interrupted; nothing half-written was left behind{_hint(stop)}", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The `sharedlatent` command: main(), its exit handlers, then an exit without the interpreter's teardown.

    Freeing torch's, scikit-learn's and matplotlib's modules one by one took 0.6-1.4 s after every command
    (one-off timings of `python -c "import torch, ..."` against the same followed by os._exit), and
    there is nothing left to do by then: the commands close their files, the exit handlers (atexit) run here, and
    stdout and stderr are flushed. An exception that escapes main() still leaves the ordinary way, with its traceback,
    and so does a process under a profiler or debugger (cProfile writes its output at exit) or with threads to join."""
    code = main()
    if (
        sys.getprofile()
        or sys.gettrace()
        or any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
    ):
        raise SystemExit(code)  # a profiler's or debugger's output, or threads to join: the ordinary exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe (`| head`) has nothing to flush to
            stream.flush()
    os._exit(code)


def _hint(stop: BaseException) -> str:
    """What an interrupt says beyond itself (where the checkpoint is), as the tail of one line."""
    return f"; {stop}" if str(stop) else ""


COLOR_BY_HELP = "an obs column (h5ad / h5mu data) to colour the latent plot by, e.g. cell_type"


def add_train_parser(commands: Subparsers) -> None:
    train = commands.add_parser("train", help="train on a dataset and write a run folder")
    train.add_argument(
        "dataset", nargs="?", help="registered name or module:function (default: the config's, else digits)"
    )
    train.add_argument("--config", type=Path, help="TOML file with [model] and [train] tables")
    train.add_argument("--out", type=Path, help="run folder to create (default: runs/<dataset>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run writing --out")
    train.add_argument("--epochs", type=int, help="train.epochs")
    train.add_argument("--batch-size", type=int, help="train.batch_size")
    train.add_argument(
        "--noise",
        type=float,
        help="train.noise_level: std of Gaussian input noise (denoising) on every domain; unset: 0.2 on standardised domains",
    )
    train.add_argument(
        "--schedule", choices=accepted(SCHEDULES), help='train.schedule ("seed" is the deprecated name of original)'
    )
    train.add_argument("--seed", type=int, help="train.seed")
    train.add_argument("--device", choices=DEVICES, help=f"train.device: {', '.join(DEVICES)}")
    train.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config key, e.g. model.latent_size=8"
    )
    train.add_argument(
        "--data-option", action="append", default=[], metavar="KEY=VALUE", help="dataset loader option, e.g. path=data/"
    )
    train.add_argument(
        "--allow-pickle", action="store_true", help="let the 'pickle' dataset unpickle (runs code from the file)"
    )
    train.add_argument(
        "--trust-loader",
        action="store_true",
        help="run the module:function or file.py:function loader that a --config file names as its dataset",
    )
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    train.add_argument("--color-by", metavar="COLUMN", help=COLOR_BY_HELP)
    train.add_argument(
        "--no-evaluate",
        action="store_true",
        help="skip metrics, figures and report (`sharedlatent evaluate` adds them)",
    )


def run_train(args: argparse.Namespace) -> int:
    from sharedlatent.config import RunConfig, apply_overrides
    from sharedlatent.runs.folder import train_run
    from sharedlatent.runs.resume import interrupts_keep_checkpoint
    from sharedlatent.runs.summary import summary_lines
    from sharedlatent.training.distributed import is_main

    config = RunConfig.from_toml(args.config) if args.config else RunConfig()
    overrides = _train_overrides(args)
    if ":" in config.dataset and "dataset" not in overrides and not args.trust_loader:
        # A config file is data: a run folder's config.toml may come from anyone, and a loader path is code
        raise SharedLatentError(
            f"{args.config} names the dataset loader {config.dataset!r}, which is code; pass --trust-loader to run "
            "it, or give the dataset on the command line"
        )
    config = apply_overrides(config, overrides)
    data_options: dict[str, Any] = parse_pairs(args.data_option, "--data-option")
    if args.allow_pickle:
        data_options["allow_pickle"] = True
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"{config.dataset.replace(':', '_').replace('.', '_')}-{stamp}"
    if args.resume and not args.out:
        raise SharedLatentError("--resume needs --out: the folder the interrupted run was writing")
    with interrupts_keep_checkpoint(out):
        folder = train_run(
            config,
            out,
            data_options,
            overwrite=args.overwrite,
            resume=args.resume,
            evaluate=not args.no_evaluate,
            color_by=args.color_by,
        )
    if is_main():  # under torchrun, rank 0 wrote the folder and speaks for all
        print(summary_lines(folder))
    return 0


def _train_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The `--set` pairs plus the shortcut flags, as dotted config keys with TOML values."""
    overrides = parse_pairs(args.set, "--set")
    # the shortcut flags: (flag, attribute, key, TOML text of the value)
    flags = [("--epochs", "epochs", "train.epochs", str), ("--batch-size", "batch_size", "train.batch_size", str)]
    flags += [("--noise", "noise", "train.noise_level", str), ("--seed", "seed", "train.seed", str)]
    flags += [
        ("--schedule", "schedule", "train.schedule", json.dumps),
        ("--device", "device", "train.device", json.dumps),
    ]
    for flag, attribute, key, as_text in flags:
        value = getattr(args, attribute)
        if value is None:
            continue
        if key in overrides:  # one setting given twice: neither silently wins
            raise SharedLatentError(f"{flag} and --set {key}=... both set {key}; give one")
        overrides[key] = as_text(value)
    if args.dataset:
        overrides["dataset"] = json.dumps(absolute_loader_path(args.dataset))
    if args.no_progress:
        overrides["train.progress"] = "false"
    return overrides


def add_info_parser(commands: Subparsers) -> None:
    info = commands.add_parser("info", help="what a run folder holds")
    info.add_argument("run", type=Path)


def run_info(args: argparse.Namespace) -> int:
    from sharedlatent.runs.resume import checkpoint_folder
    from sharedlatent.runs.summary import check_model_matches, read_history, summary_lines

    if not args.run.exists() and checkpoint_folder(args.run).is_dir():
        raise SharedLatentError(
            f"run folder {args.run} does not exist, but {checkpoint_folder(args.run)} holds an interrupted run of it: "
            "the same train command with --resume continues it"
        )
    text = summary_lines(args.run, list_files=True)
    check_model_matches(args.run)  # a run whose model file is damaged or not its own is not described as healthy
    read_history(args.run)  # nor one whose training history is
    print(text)
    return 0


def add_evaluate_parser(commands: Subparsers) -> None:
    evaluate = commands.add_parser("evaluate", help="recompute metrics, figures and the HTML report for a run")
    evaluate.add_argument("run", type=Path)
    evaluate.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="test writes metrics.json and the report; train writes the same files suffixed _train",
    )
    evaluate.add_argument(
        "--trust-loader", action="store_true", help="run the module:function or file.py:function run.json names"
    )
    evaluate.add_argument(
        "--allow-pickle", action="store_true", help="let a run trained on a pickle unpickle it (runs code from it)"
    )
    evaluate.add_argument("--color-by", metavar="COLUMN", help=COLOR_BY_HELP)


def run_evaluate(args: argparse.Namespace) -> int:
    from sharedlatent.evaluation.tables import metrics_table
    from sharedlatent.figures.report import REPORT_FILE
    from sharedlatent.runs.folder import evaluate_run
    from sharedlatent.storage import METRICS_FILE, split_file

    metrics = evaluate_run(
        args.run, args.split, trust_loader=args.trust_loader, allow_pickle=args.allow_pickle, color_by=args.color_by
    )
    print(metrics_table(metrics))
    written = f"{split_file(METRICS_FILE, args.split)}, figures and {split_file(REPORT_FILE, args.split)}"
    print(f"wrote {written} to {args.run}")
    return 0


def add_compare_parser(commands: Subparsers) -> None:
    compare = commands.add_parser("compare", help="print the metrics of several runs side by side")
    compare.add_argument("runs", type=Path, nargs="+")
    compare.add_argument("--split", choices=SPLITS, default="test", help="which split's metrics to compare")


def run_compare(args: argparse.Namespace) -> int:
    from sharedlatent.evaluation.tables import comparison_table
    from sharedlatent.runs.summary import metrics_shaped
    from sharedlatent.storage import METRICS_FILE, read_json, split_file

    runs = {str(folder): read_json(folder / split_file(METRICS_FILE, args.split)) for folder in args.runs}
    broken = [name for name, metrics in runs.items() if not metrics_shaped(metrics)]
    if broken:
        raise SharedLatentError(f"{broken[0]}: not a sharedlatent metrics file; rerun `sharedlatent evaluate` on it")
    print(comparison_table(runs))
    return 0


def add_datasets_parser(commands: Subparsers) -> None:
    commands.add_parser("datasets", help="list available datasets and what each needs")


def run_datasets(args: argparse.Namespace) -> int:
    from sharedlatent.datasets import available_datasets

    for name, spec in sorted(available_datasets().items()):
        print(f"{name}\n    {spec.summary}\n    needs: {spec.needs}")
    return 0


def add_fetch_parser(commands: Subparsers) -> None:
    fetch = commands.add_parser("fetch", help="download a public dataset into the cache (needs network)")
    fetch.add_argument("name", choices=["mnist"])
    fetch.add_argument("--dest", type=Path, help="folder to download into (default: the cache)")


def run_fetch(args: argparse.Namespace) -> int:
    from sharedlatent.datasets.mnist import fetch_mnist

    for path in fetch_mnist(args.dest):
        print(f"have {path}")
    return 0


def absolute_loader_path(dataset: str) -> str:
    """`file.py:function` with the file made absolute, so `evaluate` finds it from any folder."""
    module, _, function = dataset.rpartition(":")
    return f"{Path(module).resolve()}:{function}" if module.endswith(".py") else dataset


def _version() -> str:
    from sharedlatent import __version__

    return __version__


# Each command: the function that adds its subparser and the function that runs it.
COMMANDS: dict[str, tuple[Callable[[Subparsers], None], Callable[[argparse.Namespace], int]]] = {
    "train": (add_train_parser, run_train),
    "translate": (add_translate_parser, run_translate),
    "encode": (add_encode_parser, run_encode),
    "generate": (add_generate_parser, run_generate),
    "info": (add_info_parser, run_info),
    "evaluate": (add_evaluate_parser, run_evaluate),
    "compare": (add_compare_parser, run_compare),
    "datasets": (add_datasets_parser, run_datasets),
    "fetch": (add_fetch_parser, run_fetch),
}

if __name__ == "__main__":
    sys.exit(main())
