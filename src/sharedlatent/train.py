"""The training loop: in-memory batches, one Adam optimiser, phases with freezing, early stopping, history."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Mapping

import torch

from sharedlatent.config import TrainConfig
from sharedlatent.model import SharedLatentModule, kl_to_standard_normal, sample_latent
from sharedlatent.schedules import Path, Phase, Stage, set_trainable

Batch = dict[str, torch.Tensor]


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
        return {"records": [asdict(r) for r in self.records], "stopped_early": self.stopped_early, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        return cls([EpochRecord(**r) for r in values["records"]], list(values["stopped_early"]), float(values["seconds"]))

    def phases(self) -> list[str]:
        return list(dict.fromkeys(r.phase for r in self.records))


def path_losses(
    module: SharedLatentModule,
    inputs: Batch,
    targets: Batch,
    paths: tuple[Path, ...],
    config: TrainConfig,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Summed loss of all paths on one batch, plus its terms; all paths share one stacked decoder pass.

    Reconstruction is squared error summed over samples and features; the KL is averaged over the batch
    (the original's weighting). With generator None the posterior mean is decoded (validation)."""
    branches = {name: module.branch(name, inputs[name]) for name in dict.fromkeys(s for p in paths for s in p.sources)}
    hidden = torch.cat(
        [branches[p.sources[0]] if len(p.sources) == 1 else torch.stack([branches[s] for s in p.sources]).mean(0) for p in paths]
    )
    mean, log_sigma = module.heads(hidden)
    z = mean if generator is None else sample_latent(mean, log_sigma, generator)
    decoded_domains = list(dict.fromkeys(t for p in paths for t in p.targets))
    outputs = module.decode(z, decoded_domains)
    kl = kl_to_standard_normal(mean, log_sigma, config.kl_formula)
    batch = next(iter(inputs.values())).shape[0]
    terms: dict[str, torch.Tensor] = {}
    total = torch.zeros((), device=z.device)
    for index, path in enumerate(paths):
        rows = slice(index * batch, (index + 1) * batch)
        label = "+".join(path.sources)
        for target in path.targets:
            error = module.likelihoods[target].loss(targets[target], outputs[target][rows]).sum()
            terms[f"{label}->{target}"] = error
            total = total + error
        # The original's Keras models added the KL once per decoded output.
        kl_weight = config.beta * (len(path.targets) if config.kl_formula == "seed" else 1)
        kl_term = kl[rows].mean()
        terms[f"kl({label})"] = kl_term
        total = total + kl_weight * kl_term
    return total, terms


def add_noise(batch: Batch, module: SharedLatentModule, noise_level: float, generator: torch.Generator) -> Batch:
    """Inputs with Gaussian noise (clipped to [0, 1] for domains that live there); targets stay clean."""
    if noise_level <= 0:
        return batch
    noisy = {}
    for name, x in batch.items():
        x = x + noise_level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        noisy[name] = x.clamp(0.0, 1.0) if module.likelihoods[name].bounded_unit_interval else x
    return noisy


def run_epoch(
    module: SharedLatentModule,
    optimizer: torch.optim.Optimizer,
    data: Batch,
    phase: Phase,
    config: TrainConfig,
    generator: torch.Generator,
) -> tuple[float, dict[str, float]]:
    """One shuffled pass over `data` training `phase`; returns the mean loss per sample and its terms."""
    set_trainable(module, phase.trainable)
    module.train()
    n = next(iter(data.values())).shape[0]
    order = torch.randperm(n, generator=generator, device="cpu").to(next(iter(data.values())).device)
    shuffled = {name: values[order] for name, values in data.items()}  # one gather per epoch; batches are views
    total, sums = 0.0, {}
    for start in range(0, n, config.batch_size):
        targets = {name: values[start : start + config.batch_size] for name, values in shuffled.items()}
        inputs = add_noise(targets, module, config.noise_level, generator)
        loss, terms = path_losses(module, inputs, targets, phase.paths, config, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        rows = next(iter(targets.values())).shape[0]
        total += loss.item()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + (value.item() * (rows if key.startswith("kl(") else 1))
    return total / n, {key: value / n for key, value in sums.items()}


@torch.no_grad()
def evaluate_loss(module: SharedLatentModule, data: Batch, phase: Phase, config: TrainConfig) -> float:
    """The phase objective per sample on `data` in training-sized batches, decoding the posterior mean."""
    module.eval()
    n = next(iter(data.values())).shape[0]
    total = 0.0
    for start in range(0, n, config.batch_size):
        batch = {name: values[start : start + config.batch_size] for name, values in data.items()}
        loss, _ = path_losses(module, batch, batch, phase.paths, config, None)
        total += loss.item()
    return total / n


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


def fit_module(
    module: SharedLatentModule,
    stages: list[Stage],
    train_data: Batch,
    validation_data: Batch | None,
    config: TrainConfig,
    progress: bool | None = None,
) -> History:
    """Run every stage of a schedule on in-memory tensors and return the history."""
    from tqdm.auto import tqdm

    generator = torch.Generator(device="cpu").manual_seed(config.seed + 1)
    if next(module.parameters()).device.type != "cpu":
        generator = torch.Generator(device=next(module.parameters()).device).manual_seed(config.seed + 1)
    optimizer = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    history = History()
    started = time.perf_counter()
    show = config.progress if progress is None else progress
    for stage_index, stage in enumerate(stages):
        stopper = EarlyStopping(config.patience, stage.restore_best) if stage.stop_on else None
        plateau = (
            torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=config.lr_decay, patience=config.lr_decay_patience)
            if stage.restore_best and config.lr_decay < 1
            else None
        )
        label = "+".join(phase.name for phase in stage.phases)
        bar = tqdm(range(stage.epochs), desc=f"{label:>12}", disable=not show, leave=True, dynamic_ncols=True)
        for epoch in bar:
            monitored = {}
            for phase in stage.phases:
                tick = time.perf_counter()
                train_loss, terms = run_epoch(module, optimizer, train_data, phase, config, generator)
                validation_loss = evaluate_loss(module, validation_data, phase, config) if validation_data else None
                history.records.append(
                    EpochRecord(stage_index, phase.name, epoch, train_loss, validation_loss, terms, time.perf_counter() - tick)
                )
                monitored = {"train": train_loss, "validation": validation_loss if validation_loss is not None else train_loss}
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
    shown = {}
    for record in records:
        shown[record.phase] = f"{record.train_loss:.3g}"
        if record.validation_loss is not None:
            shown[f"{record.phase}_val"] = f"{record.validation_loss:.3g}"
    last = records[-1].terms
    for key, value in last.items():
        if "->" in key and len(shown) < 8:
            shown[key] = f"{value:.3g}"
    return shown
