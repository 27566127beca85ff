"""The training loop: in-memory batches, one Adam optimiser, phases with freezing, early stopping, history."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import torch

from sharedlatent.config import TrainConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.schedules import Path, Phase, Stage, set_trainable

Batch = dict[str, torch.Tensor]


@dataclass
class TensorData:
    """Training or validation samples as tensors per domain, with 0/1 presence per sample (None: all present)."""

    values: Batch
    present: Batch | None = None

    @property
    def n_samples(self) -> int:
        return next(iter(self.values.values())).shape[0]

    def rows(self, index: torch.Tensor | slice) -> TensorData:
        """The same domains restricted to `index` (a permutation gathers, a slice gives views)."""
        present = None if self.present is None else {name: mask[index] for name, mask in self.present.items()}
        return TensorData({name: values[index] for name, values in self.values.items()}, present)


@dataclass
class EpochRecord:
    """Losses of one phase-epoch, per training sample (so they do not scale with batch size)."""

    stage: int
    phase: str
    epoch: int
    train_loss: float
    validation_loss: float | None
    terms: dict[str, float]
    seconds: float


@dataclass
class History:
    """Everything the loop measured, in order."""

    records: list[EpochRecord] = field(default_factory=list)
    stopped_early: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "records": [asdict(r) for r in self.records],
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, values: dict) -> History:
        return cls(
            [EpochRecord(**r) for r in values["records"]], list(values["stopped_early"]), float(values["seconds"])
        )

    def phases(self) -> list[str]:
        return list(dict.fromkeys(r.phase for r in self.records))


def path_losses(
    module: SharedLatentModule,
    inputs: Batch,
    targets: Batch,
    paths: tuple[Path, ...],
    config: TrainConfig,
    generator: torch.Generator | None,
    present: Batch | None = None,
    beta: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Summed loss of all paths on one batch, plus its (unweighted) terms; all paths share one stacked decoder pass.

    Reconstruction is each target's negative log-likelihood (squared error for sigmoid_mse) summed over samples
    and features; the KL is averaged over the batch (the original's weighting). With generator None the
    posterior mean is decoded (validation). `present` (domain -> 0/1 per row) drops absent samples: a path uses
    a sample only when all its sources are present, and scores a target only where the target is present."""
    beta = config.beta if beta is None else beta
    if present is not None:
        # An absent sample's values must not matter at all, not even as NaN or overflow times a zero weight.
        inputs, targets = _zero_absent(inputs, present), _zero_absent(targets, present)
    branches = {name: module.branch(name, inputs[name]) for name in dict.fromkeys(s for p in paths for s in p.sources)}
    groups = [[branches[s] for s in p.sources] for p in paths]
    latent = module.joint_posterior.combine(
        module, groups, None if present is None else [[present[s] for s in p.sources] for p in paths]
    )
    z = latent.mean if generator is None else latent.sample(generator)
    decoded_domains = list(dict.fromkeys(t for p in paths for t in p.targets))
    outputs = module.decode(z, decoded_domains)
    kl = latent.kl(config.kl_formula)
    batch = next(iter(inputs.values())).shape[0]
    # Score all stacked rows at once: slicing each path's rows out of a decoder output would make autograd
    # zero-fill a full-size gradient for every slice and add them up.
    stacked = {t: targets[t] if len(paths) == 1 else targets[t].repeat(len(paths), 1) for t in decoded_domains}
    errors = {t: module.likelihoods[t].loss(stacked[t], outputs[t]) for t in decoded_domains}
    terms: dict[str, torch.Tensor] = {}
    total = torch.zeros((), device=z.device)
    for index, path in enumerate(paths):
        rows = slice(index * batch, (index + 1) * batch)
        label = "+".join(path.sources)
        used = None if present is None else torch.stack([present[s] for s in path.sources]).prod(0)
        for target in path.targets:
            per_sample = errors[target][rows]
            error = per_sample.sum() if used is None else (per_sample * used * present[target]).sum()
            terms[f"{label}->{target}"] = error
            cross = target not in path.sources and config.cross_weight != 1.0
            total = total + (config.cross_weight * error if cross else error)
        if config.cycle_weight > 0 and len(path.sources) == 1:
            decoded = {t: outputs[t][rows] for t in path.targets}
            total = total + config.cycle_weight * cycle_terms(
                module, z[rows], decoded, path.sources[0], targets, used, terms
            )
        # The original's Keras models added the KL once per decoded output.
        kl_weight = beta * (len(path.targets) if config.kl_formula == "seed" else 1)
        kl_term = kl[rows].mean() if used is None else (kl[rows] * used).sum() / batch
        terms[f"kl({label})"] = kl_term
        total = total + kl_weight * kl_term
    return total, terms


def _zero_absent(batch: Batch, present: Batch) -> Batch:
    """The batch with every absent sample's row set to zero."""
    return {
        name: torch.where(present[name][:, None] > 0, x, torch.zeros_like(x)) if name in present else x
        for name, x in batch.items()
    }


def cycle_terms(
    module: SharedLatentModule,
    z: torch.Tensor,
    decoded: Batch,
    source: str,
    targets: Batch,
    used: torch.Tensor | None,
    terms: dict[str, torch.Tensor],
) -> torch.Tensor:
    """Sum over other domains B of the loss of source -> B -> source against the source data; adds a term per B.

    `decoded` holds the decoder outputs the path already made from `z`; other domains are decoded here."""
    total = torch.zeros((), device=z.device)
    for other in module.domain_names:
        if other == source:
            continue
        output = decoded[other] if other in decoded else module.decode(z, [other])[other]
        there = module.reconstruction(other, output)
        back = module.latent({other: there}).mean
        per_sample = module.likelihoods[source].loss(targets[source], module.decode(back, [source])[source])
        error = per_sample.sum() if used is None else (per_sample * used).sum()
        terms[f"{source}->{other}->{source}"] = error
        total = total + error
    return total


def add_noise(batch: Batch, module: SharedLatentModule, noise_level: float, generator: torch.Generator) -> Batch:
    """Inputs with Gaussian noise, clipped into each likelihood's support (e.g. [0, 1], counts >= 0); targets stay clean."""
    if noise_level <= 0:
        return batch
    noisy = {}
    for name, x in batch.items():
        x = x + noise_level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        low, high = module.likelihoods[name].support
        noisy[name] = x if low is None and high is None else x.clamp(low, high)
    return noisy


def kl_weight_at(config: TrainConfig, epoch: int) -> float:
    """The KL weight in the `epoch`-th epoch (0-based, counted over all stages): linear warm-up, then train.beta."""
    if config.beta_warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, (epoch + 1) / config.beta_warmup_epochs)


def run_epoch(
    module: SharedLatentModule,
    optimizer: torch.optim.Optimizer,
    data: TensorData,
    phase: Phase,
    config: TrainConfig,
    generator: torch.Generator,
    beta: float | None = None,
) -> tuple[float, dict[str, float]]:
    """One shuffled pass over `data` training `phase`; returns the mean loss per sample and its terms."""
    set_trainable(module, phase.trainable)
    module.train()
    n = data.n_samples
    order = torch.randperm(n, generator=generator, device="cpu").to(next(iter(data.values.values())).device)
    shuffled = data.rows(order)  # one gather per epoch; batches are views
    total, sums = 0.0, {}
    for start in range(0, n, config.batch_size):
        batch = shuffled.rows(slice(start, start + config.batch_size))
        inputs = add_noise(batch.values, module, config.noise_level, generator)
        loss, terms = path_losses(module, inputs, batch.values, phase.paths, config, generator, batch.present, beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        rows = batch.n_samples
        total += loss.item()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + (value.item() * (rows if key.startswith("kl(") else 1))
    return total / n, {key: value / n for key, value in sums.items()}


@torch.no_grad()
def evaluate_loss(module: SharedLatentModule, data: TensorData, phase: Phase, config: TrainConfig) -> float:
    """The phase objective per sample on `data` in training-sized batches, decoding the posterior mean (full KL weight)."""
    module.eval()
    total = 0.0
    for start in range(0, data.n_samples, config.batch_size):
        batch = data.rows(slice(start, start + config.batch_size))
        loss, _ = path_losses(module, batch.values, batch.values, phase.paths, config, None, batch.present)
        total += loss.item()
    return total / data.n_samples


class EarlyStopping:
    """Stops after `patience` epochs without a lower monitored loss; remembers the best weights if asked."""

    def __init__(self, patience: int, keep_best: bool) -> None:
        self.patience, self.keep_best = patience, keep_best
        self.best, self.waited, self.best_state = math.inf, 0, None

    def should_stop(self, loss: float, module: torch.nn.Module) -> bool:
        if loss < self.best:
            self.best, self.waited = loss, 0
            if self.keep_best:
                self.best_state = copy.deepcopy(module.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience


def make_optimizer(module: torch.nn.Module, learning_rate: float) -> torch.optim.Optimizer:
    """Adam, with its fused kernel where this torch has one for the parameters' device (same update, fewer kernels)."""
    try:
        return torch.optim.Adam(module.parameters(), lr=learning_rate, fused=True)
    except RuntimeError:  # torch < 2.4 on CPU, or a device without the fused kernel
        return torch.optim.Adam(module.parameters(), lr=learning_rate)


def fit_module(
    module: SharedLatentModule,
    stages: list[Stage],
    train_data: TensorData,
    validation_data: TensorData | None,
    config: TrainConfig,
    progress: bool | None = None,
) -> History:
    """Run every stage of a schedule on in-memory tensors and return the history."""
    from tqdm.auto import tqdm

    generator = torch.Generator(device="cpu").manual_seed(config.seed + 1)
    if next(module.parameters()).device.type != "cpu":
        generator = torch.Generator(device=next(module.parameters()).device).manual_seed(config.seed + 1)
    optimizer = make_optimizer(module, config.learning_rate)
    history = History()
    started = time.perf_counter()
    show = config.progress if progress is None else progress
    epochs_run = 0  # over all stages, for the KL warm-up
    for stage_index, stage in enumerate(stages):
        stopper = EarlyStopping(config.patience, stage.restore_best) if stage.stop_on else None
        plateau = (
            torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=config.lr_decay, patience=config.lr_decay_patience
            )
            if stage.restore_best and config.lr_decay < 1
            else None
        )
        label = "+".join(phase.name for phase in stage.phases)
        bar = tqdm(range(stage.epochs), desc=f"{label:>12}", disable=not show, leave=True, dynamic_ncols=True)
        for epoch in bar:
            monitored = {}
            beta = kl_weight_at(config, epochs_run)
            epochs_run += 1
            for phase in stage.phases:
                tick = time.perf_counter()
                train_loss, terms = run_epoch(module, optimizer, train_data, phase, config, generator, beta)
                if not math.isfinite(train_loss):
                    raise SharedLatentError(
                        f"training diverged: the {phase.name} loss became {train_loss} in epoch {epoch + 1}; "
                        "lower train.learning_rate or train.beta, or check the data's scale against its likelihood"
                    )
                validation_loss = evaluate_loss(module, validation_data, phase, config) if validation_data else None
                history.records.append(
                    EpochRecord(
                        stage_index, phase.name, epoch, train_loss, validation_loss, terms, time.perf_counter() - tick
                    )
                )
                monitored = {
                    "train": train_loss,
                    "validation": validation_loss if validation_loss is not None else train_loss,
                }
            bar.set_postfix(_postfix(history.records[-len(stage.phases) :]), refresh=False)
            if plateau:
                plateau.step(monitored[stage.stop_on])
            if stopper and stopper.should_stop(monitored[stage.stop_on], module):
                history.stopped_early.append(f"{label} stopped after epoch {epoch + 1} of {stage.epochs}")
                break
        bar.close()
        if stopper and stopper.best_state is not None:
            module.load_state_dict(stopper.best_state)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate
    set_trainable(module, tuple(module.parameter_groups()))
    module.eval()
    history.seconds = time.perf_counter() - started
    return history


def _postfix(records: list[EpochRecord]) -> dict[str, str]:
    """Phase losses, then the last phase's reconstruction loss per target domain (summed over paths) and its cycle loss."""
    shown = {}
    for record in records:
        shown[record.phase] = f"{record.train_loss:.3g}"
        if record.validation_loss is not None:
            shown[f"{record.phase}_val"] = f"{record.validation_loss:.3g}"
    per_domain: dict[str, float] = {}
    for key, value in records[-1].terms.items():
        if "->" in key:
            hops = key.split("->")
            name = "cycle" if len(hops) > 2 else f"{hops[-1]}_loss"
            per_domain[name] = per_domain.get(name, 0.0) + value
    for key, value in per_domain.items():
        if len(shown) < 10:
            shown[key] = f"{value:.3g}"
    return shown
