"""The training loop: in-memory batches, one Adam optimiser, stages of phases with freezing, early stopping.

The loop knows stages, phases, batches, `module.loss(...).total` and the optimiser step; the objective itself
lives on the module (nn/objective.py) and history reads its typed terms (training/history.py)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from sharedlatent.config import TrainConfig
from sharedlatent.errors import SharedLatentError, first_line
from sharedlatent.nn.direct_gradients import DirectStep
from sharedlatent.nn.draws import Draws
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossTerms, LossWeights, Route, add_noise, kl_weight_at
from sharedlatent.plain_values import is_count, is_number
from sharedlatent.training import distributed
from sharedlatent.training.adam import Adam, PhaseOptimizers, PlateauDecay
from sharedlatent.training.averaging import WeightAverage, averaging_decay
from sharedlatent.training.checkpoint import Checkpoint, Position, check_tensors
from sharedlatent.training.history import EpochRecord, EpochSums, History, TermValues, checked_history
from sharedlatent.training.runtime import autocast
from sharedlatent.training.schedules import Phase, Stage, set_trainable

__all__ = ["EarlyStopping", "EpochRecord", "History", "TensorData", "evaluate_loss", "fit_module", "run_epoch"]

Batch = dict[str, torch.Tensor]


@dataclass
class TensorData:
    """Training or validation samples as tensors per domain, with 0/1 presence per sample (None: all present)."""

    values: Batch
    present: Batch | None = None
    covariates: torch.Tensor | None = None  # batch one-hot then continuous covariate rows, or None

    @property
    def n_samples(self) -> int:
        return next(iter(self.values.values())).shape[0]

    @property
    def device(self) -> torch.device:
        return next(iter(self.values.values())).device

    @classmethod
    def from_numpy(
        cls,
        arrays: dict[str, np.ndarray],
        present: dict[str, np.ndarray] | None,
        device: torch.device,
        covariates: np.ndarray | None = None,
    ) -> TensorData:
        """Float32 arrays, boolean presence masks (or None) and covariate rows (or None) as tensors on `device`."""
        values = {name: torch.from_numpy(v).to(device) for name, v in arrays.items()}
        extra = None if covariates is None else torch.from_numpy(covariates).to(device)
        if present is None:
            return cls(values, None, extra)
        masks = {name: torch.from_numpy(m.astype(np.float32)).to(device) for name, m in present.items()}
        return cls(values, masks, extra)

    def rows(self, index: torch.Tensor | slice) -> TensorData:
        """The same domains restricted to `index` (a permutation gathers, a slice gives views)."""

        def take(tensor: torch.Tensor) -> torch.Tensor:
            # index_select gathers rows about 4x faster than indexing with a tensor (digits' training rows, one-off)
            return tensor[index] if isinstance(index, slice) else tensor.index_select(0, index)

        present = None if self.present is None else {name: take(mask) for name, mask in self.present.items()}
        covariates = None if self.covariates is None else take(self.covariates)
        return TensorData({name: take(values) for name, values in self.values.items()}, present, covariates)

    def shuffled(self, order: torch.Tensor) -> TensorData:
        """The samples in `order`: one gather per epoch, so that the epoch's batches are views."""
        return self.rows(order)


class EpochSetup:
    """What the epochs of one fit reuse instead of rebuilding: the module's parameter groups and its hand-written
    steps (nn/direct_gradients.py), one per objective and set of trainable parameters.

    On digits' `original` schedule an epoch has about 6 steps, and rebuilding these took about 5% of a fit (one-off
    timing). A fit updates its parameters in place (Adam, early stopping's restore, a checkpoint's load), so what is
    built once stays valid for that fit; a new fit makes a new setup. A hook registered on the module during a fit
    is not seen (DirectStep.build checks for hooks when it builds); nothing in a fit registers one."""

    KEPT_STEPS = 16  # a KL warm-up changes the weights every epoch: keep only the most recently used steps

    def __init__(self, module: SharedLatentModule) -> None:
        self.module = module
        self.groups = module.parameter_groups()
        self.parameters = list(module.parameters())
        self.modules = list(module.modules())
        self._steps: dict[tuple, DirectStep | None] = {}

    def set_trainable(self, groups: tuple[str, ...]) -> None:
        """Freeze every parameter outside `groups` (schedules.set_trainable with the kept groups)."""
        set_trainable(self.module, groups, self.groups)

    def train_mode(self) -> None:
        """module.train(), skipped when every submodule is in training mode already (the call walks them all)."""
        if not all(sub.training for sub in self.modules):
            self.module.train()

    def direct_step(self, routes: tuple[Route, ...], weights: LossWeights, device: torch.device) -> DirectStep | None:
        """DirectStep.build's step for these routes, weights and the parameters trainable now (None: autograd's)."""
        key = (routes, weights, device, tuple(parameter.requires_grad for parameter in self.parameters))
        if key in self._steps:
            step = self._steps.pop(key)  # back to the end: the least recently used is the one dropped
        else:
            if len(self._steps) >= self.KEPT_STEPS:
                del self._steps[next(iter(self._steps))]
            step = DirectStep.build(self.module, routes, weights, device)
        self._steps[key] = step
        return step


def _setup_of(module: SharedLatentModule, setup: EpochSetup | None) -> EpochSetup:
    """`setup`, checked to be `module`'s, or a new one."""
    if setup is None:
        return EpochSetup(module)
    if setup.module is not module:
        raise ValueError("this EpochSetup was made for another module")
    return setup


def run_epoch(
    module: SharedLatentModule,
    optimizer: Adam,
    data: TensorData,
    phase: Phase,
    config: TrainConfig,
    generator: torch.Generator,
    beta: float | None = None,
    noise_levels: Mapping[str, float] | None = None,
    setup: EpochSetup | None = None,
    average: WeightAverage | None = None,
) -> tuple[float, TermValues]:
    """One shuffled pass over `data` training `phase` (inputs noised per domain by `noise_levels`); returns the
    mean loss per sample and its terms per sample. `setup`: what a fit's epochs share (else built here);
    `average`: a weight average to update after every step. The hand-written step's gradients do not outlive it."""
    setup = _setup_of(module, setup)
    setup.set_trainable(phase.trainable)
    setup.train_mode()
    weights = LossWeights.from_config(config, beta)
    loss_of = distributed.objective(module)  # module.loss, or DDP around it in a process group
    n = data.n_samples
    order = torch.randperm(n, generator=generator, device="cpu").to(data.device)
    shuffled = data.shuffled(order)  # in memory one gather per epoch; on disk (training/sources.py) a lazy order
    sums = EpochSums(deferred=data.device.type != "cpu")  # no per-batch read from an accelerator
    # Plain layouts on the CPU skip autograd (nn/direct_gradients.py: the same loss and gradients, its timings there)
    direct = None
    if distributed.world_size() == 1 and config.precision == "float32":
        direct = setup.direct_step(phase.routes, weights, data.device)
    for start in range(0, n, config.batch_size):
        stop = min(start + config.batch_size, n)
        part = distributed.shard(start, stop)
        batch = shuffled.rows(part.rows)
        draws = distributed.draws(generator, part, start, stop)  # this rank's rows of the global batch's noise
        inputs = add_noise(batch.values, module, noise_levels or {}, draws)
        if direct is not None and batch.present is None and batch.covariates is None:
            terms = direct.loss_and_gradients(batch.values, inputs=inputs, generator=draws)
        else:
            terms = _autograd_gradients(
                loss_of,
                batch,
                phase.routes,
                distributed.shard_weights(weights, part),
                inputs=inputs,
                draws=draws,
                optimizer=optimizer,
                loss_scale=part.loss_scale,
                precision=config.precision,
            )
        optimizer.step()
        if average is not None:
            average.update()
        if part.loss_scale:
            sums.add(terms, batch.n_samples)
    if direct is not None:  # its gradients are inference tensors, which a backward pass could not add to later
        optimizer.zero_grad()
    total, summed = sums.result()
    if distributed.world_size() > 1:
        total, summed = _summed_over_ranks(total, summed, order.device)
    return total / n, summed.scaled(1 / n)


def _autograd_gradients(
    loss_of: Callable[..., LossTerms],
    batch: TensorData,
    routes: tuple[Route, ...],
    weights: LossWeights,
    *,
    inputs: Batch,
    draws: Draws,
    optimizer: Adam,
    loss_scale: float,
    precision: str,
) -> LossTerms:
    """The batch's loss terms, with gradients from a backward pass (scaled by this rank's `loss_scale`)."""
    with autocast(batch.device, precision):
        terms = loss_of(
            batch.values,
            routes,
            weights,
            inputs=inputs,
            present=batch.present,
            generator=draws,
            covariates=batch.covariates,
        )
    optimizer.zero_grad()
    (terms.total if loss_scale == 1 else terms.total * loss_scale).backward()
    return terms


def _summed_over_ranks(total: float, sums: TermValues, device: torch.device) -> tuple[float, TermValues]:
    """The epoch's loss and terms over every rank's rows (the same on every rank)."""
    groups = (sums.reconstruction, sums.kl, sums.cycle)
    keys = [sorted(group, key=repr) for group in groups]
    values = distributed.sum_floats(
        [total] + [group[key] for group, ks in zip(groups, keys, strict=True) for key in ks], device
    )
    summed, index = TermValues(), 1
    for group, ks in zip((summed.reconstruction, summed.kl, summed.cycle), keys, strict=True):
        for key in ks:
            group[key], index = values[index], index + 1
    return values[0], summed


@torch.no_grad()
def evaluate_loss(
    module: SharedLatentModule, data: TensorData, phase: Phase, config: TrainConfig, setup: EpochSetup | None = None
) -> float:
    """The phase objective per sample on `data` in training-sized batches, decoding the posterior mean (full KL
    weight). `setup`: what a fit's epochs share (else built here)."""
    module.eval()
    weights = LossWeights.from_config(config)
    direct = None
    if distributed.world_size() == 1:
        direct = _setup_of(module, setup).direct_step(phase.routes, weights, data.device)
    total = 0.0
    for start in range(0, data.n_samples, config.batch_size):
        part = distributed.shard(start, min(start + config.batch_size, data.n_samples))
        if part.loss_scale:
            batch = data.rows(part.rows)
            if direct is not None and batch.present is None and batch.covariates is None:
                terms = direct.loss_and_gradients(batch.values, inputs=batch.values, generator=None, gradients=False)
            else:
                weighted = distributed.shard_weights(weights, part)
                terms = module.loss(
                    batch.values, phase.routes, weighted, present=batch.present, covariates=batch.covariates
                )
            total += terms.total.item()
    return distributed.sum_floats([total], data.device)[0] / data.n_samples  # every rank decides the same


class EarlyStopping:
    """Stops after `patience` epochs without a lower monitored loss; remembers the best weights if asked."""

    def __init__(self, patience: int, keep_best: bool) -> None:
        self.patience, self.keep_best = patience, keep_best
        self.best, self.waited, self.best_state = math.inf, 0, None

    def should_stop(self, loss: float, module: torch.nn.Module) -> bool:
        if loss < self.best:
            self.best, self.waited = loss, 0
            if self.keep_best:
                self.best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
            return False
        self.waited += 1
        return self.waited >= self.patience


def make_optimizer(module: torch.nn.Module, learning_rate: float, weight_decay: float = 0.0) -> Adam:
    """Adam over every parameter of `module`, with AdamW's decoupled `weight_decay` (training/adam.py: torch's
    update, without torch.optim's start-up)."""
    return Adam(module.parameters(), learning_rate, weight_decay)


@dataclass
class _Run:
    """What every stage of one fit shares."""

    module: SharedLatentModule
    optimizer: PhaseOptimizers
    train_data: TensorData
    validation_data: TensorData | None
    config: TrainConfig
    generator: torch.Generator
    history: History
    show: bool
    setup: EpochSetup  # what every epoch reuses
    epochs_run: int = 0  # over all stages, for the KL warm-up
    checkpoint: Checkpoint | None = None
    started: float = 0.0  # perf_counter at the start, less the seconds a resumed run had already trained
    noise_levels: dict[str, float] = dataclasses.field(default_factory=dict)  # input-noise std per domain
    resumed: bool = False  # restored from a checkpoint
    average: WeightAverage | None = None  # the running stage's weight average (train.ema_decay), if any


def fit_module(
    module: SharedLatentModule,
    stages: list[Stage],
    train_data: TensorData,
    validation_data: TensorData | None,
    config: TrainConfig,
    progress: bool | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    noise_levels: Mapping[str, float] | None = None,
    weight_decay: float = 0.0,
) -> History:
    """Run every stage of a schedule on in-memory tensors and return the history (`noise_levels`: the input-noise
    std per domain, none for a domain left out; `weight_decay`: the optimiser's decoupled weight decay).

    With `checkpoint`, save the training state there as it asks; with `resume`, continue from its saved state
    (the result is the one an uninterrupted fit gives)."""
    device = next(module.parameters()).device
    generator = torch.Generator(device="cpu" if device.type == "cpu" else device).manual_seed(config.seed + 1)
    run = _Run(
        module,
        PhaseOptimizers(module.parameters(), config.learning_rate, weight_decay, config.moments_per_phase),
        train_data,
        validation_data,
        config,
        generator,
        History(),
        config.progress if progress is None else progress,
        EpochSetup(module),
        checkpoint=checkpoint,
        started=time.perf_counter(),
        noise_levels=dict(noise_levels or {}),
    )
    saved = _restore_run(run, checkpoint.load(), len(stages)) if resume and checkpoint else None
    with distributed.process_group(device):
        for stage_index, stage in enumerate(stages):
            if saved is None or stage_index >= saved["position"]["stage"]:
                resumed = saved if saved and stage_index == saved["position"]["stage"] else None
                _run_stage(run, stage_index, stage, resumed)
    set_trainable(module, tuple(module.parameter_groups()))
    module.eval()
    run.history.seconds = time.perf_counter() - run.started
    return run.history


def _restore_run(run: _Run, state: dict, n_stages: int) -> dict:
    """Put a checkpoint's module, optimiser, random and history state into `run`; returns the state. A checkpoint is
    data: any piece that does not fit this run is refused in one line (SharedLatentError), not a traceback."""
    with _damaged_checkpoint():
        position = state["position"]
        if (
            not all(is_count(position[key]) for key in ("stage", "epoch", "epochs_run"))
            or position["stage"] >= n_stages
        ):
            raise SharedLatentError(f"its position {position!r} is not a place in this schedule of {n_stages} stages")
        check_tensors(state["module"], run.module.state_dict(), "weights")
        run.module.load_state_dict(state["module"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.optimizer.lr > run.config.learning_rate:
            raise SharedLatentError(
                f"its learning rate {run.optimizer.lr:g} is above train.learning_rate {run.config.learning_rate:g}"
            )
        for name, restore in (("generator", run.generator.set_state), ("torch_rng", torch.set_rng_state)):
            try:
                restore(state[name])
            except (RuntimeError, TypeError) as error:
                raise SharedLatentError(f"its random state {name!r} does not fit: {first_line(error)}") from None
        history = state["history"]  # JSON text; a dict in older checkpoints
        run.history = checked_history(json.loads(history) if isinstance(history, str) else history)
        ran = {(record.stage, record.epoch) for record in run.history.records}
        last = run.history.records[-1] if run.history.records else None
        ends_at = None if last is None else (last.stage, last.epoch + 1)  # a save follows its epoch's record
        if len(ran) != position["epochs_run"] or ends_at != (position["stage"], position["epoch"]):
            raise SharedLatentError(
                f"its history ({len(ran)} epochs) does not end where its position says ({position!r})"
            )
        if not is_number(run.history.seconds) or not 0 <= run.history.seconds < math.inf:
            raise SharedLatentError(f"its training time {run.history.seconds!r} is not a number of seconds")
        run.started -= run.history.seconds
        run.epochs_run = position["epochs_run"]
        run.resumed = True
    return state


@contextmanager
def _damaged_checkpoint() -> Iterator[None]:
    """Turn whatever a damaged checkpoint makes torch or Python raise while it is restored into one line."""
    try:
        yield
    except SharedLatentError as error:
        raise SharedLatentError(f"the checkpoint cannot be resumed: {error}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
        raise SharedLatentError(
            f"the checkpoint cannot be resumed: {first_line(error, typed=True)}; "
            "pass --overwrite instead of --resume to start over"
        ) from None


def _save_checkpoint(
    run: _Run,
    position: Position,
    stopper: EarlyStopping | None,
    plateau: PlateauDecay | None,
) -> None:
    """Everything the remaining epochs depend on, if a checkpoint is due."""
    if run.checkpoint is None or not run.checkpoint.due(run.epochs_run) or not distributed.is_main():
        return
    run.history.seconds = time.perf_counter() - run.started
    stopping = (
        None if stopper is None else {"best": stopper.best, "waited": stopper.waited, "best_state": stopper.best_state}
    )
    state = {
        "position": dataclasses.asdict(position),
        "module": run.module.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "plateau": None if plateau is None else plateau.state_dict(),
        "stopper": stopping,
        "average": None if run.average is None else run.average.state_dict(),
        "generator": run.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        # One string, not nested containers: torch.save pickles every object of a state, and the history grows with
        # each epoch (as containers it was most of a save's time on digits)
        "history": json.dumps(run.history.to_dict()),
    }
    run.checkpoint.save(state)


def _run_stage(run: _Run, stage_index: int, stage: Stage, resumed: dict | None = None) -> None:
    """Epochs of one stage, with its early stopping and learning-rate decay; restores the best weights if asked.
    With `train.ema_decay`, the validation loss is the stage's weight average's and the best weights kept are an
    average; a stage that stops on the training loss (the raw weights', as measured in their steps) or has no
    validation split ends with the last average instead, since that loss says nothing about which average is best.

    `resumed`: a checkpoint taken inside this stage, to continue from."""
    from tqdm.auto import tqdm

    config = run.config
    decay = averaging_decay(config.ema_decay, math.ceil(run.train_data.n_samples / config.batch_size))
    run.average = WeightAverage(run.module, decay) if decay else None
    judged = stage.stop_on == "validation" and run.validation_data is not None  # a loss of the averaged weights
    keep_best = stage.restore_best and (run.average is None or judged)
    stopper = EarlyStopping(config.patience, keep_best) if stage.stop_on else None
    plateau = None
    if stage.restore_best and config.lr_decay < 1:
        plateau = PlateauDecay(run.optimizer, config.lr_decay, config.lr_decay_patience)
    first, stopped = (0, False)
    if resumed:
        first, stopped = _restore_stage(resumed, stage, stopper, plateau, run.module, run.average)
    label = "+".join(phase.name for phase in stage.phases)
    epochs = range(first, first if stopped else stage.epochs)
    show = run.show and distributed.is_main()
    bar = tqdm(epochs, desc=f"{label:>12}", disable=not show, leave=True, dynamic_ncols=True)
    for epoch in bar:
        monitored = _run_phases(run, stage_index, stage, epoch)
        bar.set_postfix(_postfix(run.history.records[-len(stage.phases) :]), refresh=False)
        if plateau:
            plateau.step(monitored[stage.stop_on])
        with _averaged(run, stopper is not None and stopper.keep_best):  # the best weights kept are averaged ones
            stopped = bool(stopper and stopper.should_stop(monitored[stage.stop_on], run.module))
        if stopped:
            run.history.stopped_early.append(f"{label} stopped after epoch {epoch + 1} of {stage.epochs}")
        _save_checkpoint(run, Position(stage_index, epoch + 1, stopped, run.epochs_run), stopper, plateau)
        if stopped:
            break
    bar.close()
    if stopper and stopper.best_state is not None:
        run.module.load_state_dict(stopper.best_state)
    elif run.average is not None:
        run.average.apply()
    run.average = None
    run.optimizer.lr = config.learning_rate


def _averaged(run: _Run, wanted: bool = True) -> AbstractContextManager:
    """The stage's weight average in the module for a block (nothing without one, or when not `wanted`)."""
    return run.average.applied() if run.average is not None and wanted else nullcontext()


def _restore_stage(
    state: dict,
    stage: Stage,
    stopper: EarlyStopping | None,
    plateau: PlateauDecay | None,
    module: torch.nn.Module,
    average: WeightAverage | None,
) -> tuple[int, bool]:
    """Load a checkpoint's early-stopping, learning-rate-decay and weight-average state; returns (next epoch,
    stopped)."""
    with _damaged_checkpoint():
        if stopper is not None and state["stopper"] is not None:
            saved = state["stopper"]
            best, waited, best_state = saved["best"], saved["waited"], saved["best_state"]
            if not is_number(best) or not -math.inf < best <= math.inf or not is_count(waited):
                raise SharedLatentError("its early-stopping state is not a best loss and an epoch count")
            if waited > stopper.patience:
                raise SharedLatentError(
                    f"its early stopping waited {waited} epochs, past train.patience {stopper.patience}"
                )
            if best_state is not None:
                check_tensors(best_state, module.state_dict(), "best weights")
            stopper.best, stopper.waited, stopper.best_state = float(best), waited, best_state
        if plateau is not None and state["plateau"] is not None:
            plateau.load_state_dict(state["plateau"])
        if average is not None:
            if state.get("average") is None:
                raise SharedLatentError(
                    "it holds no weight average, which train.ema_decay asks for (it was saved without averaging, "
                    "as before version 0.8.0); pass --overwrite instead of --resume to start over"
                )
            average.load_state_dict(state["average"])
        epoch, stopped = state["position"]["epoch"], state["position"]["stopped"]
        if not isinstance(stopped, bool):
            raise SharedLatentError(f"its position says stopped={stopped!r}, not true or false")
        if epoch > stage.epochs:
            raise SharedLatentError(f"its position is epoch {epoch} of a stage of {stage.epochs} epochs")
    return epoch, stopped


def _run_phases(run: _Run, stage_index: int, stage: Stage, epoch: int) -> dict[str, float]:
    """One epoch of each phase in turn; returns the last phase's train and validation (else train) loss."""
    beta = kl_weight_at(run.config, run.epochs_run)
    run.epochs_run += 1
    monitored: dict[str, float] = {}
    for position, phase in enumerate(stage.phases):
        tick = time.perf_counter()
        train_loss, terms = run_epoch(
            run.module,
            run.optimizer.for_phase(f"{stage_index}.{position}:{phase.name}"),  # a domain may be named "joint"
            run.train_data,
            phase,
            run.config,
            run.generator,
            beta,
            run.noise_levels,
            setup=run.setup,
            average=run.average,
        )
        if not math.isfinite(train_loss):
            noisy = ", ".join(f"{name} {level:g}" for name, level in run.noise_levels.items() if level > 0)
            settings = ["train.learning_rate", "train.beta"]
            settings += [f"the input noise ({noisy})"] if noisy else []
            settings += [f"train.weight_decay ({run.optimizer.weight_decay:g})"] if run.optimizer.weight_decay else []
            raise SharedLatentError(
                f"training diverged: the {phase.name} loss became {train_loss} in epoch {epoch + 1}; "
                f"lower {' or '.join(settings)}, or check the data's scale against its likelihood"
                + (
                    "; this fit resumed from a checkpoint, which may be damaged: --overwrite starts over"
                    if run.resumed
                    else ""
                )
            )
        validation_loss = None
        if run.validation_data:
            with _averaged(run):
                validation_loss = evaluate_loss(run.module, run.validation_data, phase, run.config, setup=run.setup)
        seconds = time.perf_counter() - tick
        run.history.records.append(
            EpochRecord(stage_index, phase.name, epoch, train_loss, validation_loss, terms, seconds)
        )
        monitored = {"train": train_loss, "validation": train_loss if validation_loss is None else validation_loss}
    return monitored


def _postfix(records: list[EpochRecord]) -> dict[str, str]:
    """Phase losses, then the last phase's reconstruction loss per target domain (summed over routes) and its cycle loss."""
    shown = {}
    for record in records:
        shown[record.phase] = f"{record.train_loss:.3g}"
        if record.validation_loss is not None:
            shown[f"{record.phase}_val"] = f"{record.validation_loss:.3g}"
    terms = records[-1].terms
    extra = {f"{target}_loss": value for target, value in terms.per_target().items()}
    if terms.cycle:
        extra["cycle"] = sum(terms.cycle.values())
    for key, value in extra.items():
        if len(shown) < 10:
            shown[key] = f"{value:.3g}"
    return shown
