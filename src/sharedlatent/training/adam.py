"""Adam (AdamW's decoupled weight decay optional) and its learning-rate decay on plateaus, as a small class around
torch's own Adam update function.

torch.optim.Optimizer imports torch._dynamo the first time it is used (0.2-0.7 s measured with warm file caches,
1.5-2 s under the import profiler) and wraps every step in hooks and a profiler record (about 0.1 ms, several
percent of a small model's step). `Adam` calls the same kernels: where the device has the fused one, it calls it
directly, with the step counts as one shared tensor per count instead of torch's per-parameter in-place additions
(a one-off timing on the digits model: 0.2 ms of a 2.7 ms step became 0.07 ms); elsewhere `torch.optim.adam.adam`.
Its steps equal torch.optim.Adam's (with weight decay: torch.optim.AdamW's) bit for bit, and its state_dict has
their layout.
`PlateauDecay` is torch's ReduceLROnPlateau rule (mode "min", relative threshold 1e-4, no cooldown) for it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.optim.adam import adam as adam_update

from sharedlatent.errors import SharedLatentError
from sharedlatent.plain_values import is_count, is_number

BETAS = (0.9, 0.999)
EPS = 1e-8
# Any gradients give exp_avg^2 <= this * exp_avg_sq elementwise (Cauchy-Schwarz over the two moving averages'
# weights): (1 - b1)^2 / ((1 - b2) (1 - b1^2 / b2)) = 52.86. A saved state above it was not written by Adam.
MOMENT_RATIO_BOUND = (1 - BETAS[0]) ** 2 / ((1 - BETAS[1]) * (1 - BETAS[0] ** 2 / BETAS[1]))
PLATEAU_THRESHOLD = 1e-4  # a loss counts as lower only below best * (1 - this), as in ReduceLROnPlateau
PLATEAU_MIN_CHANGE = 1e-8  # a decay smaller than this is skipped, as in ReduceLROnPlateau


def _has_fused_kernel(device: torch.device) -> bool:
    """Whether torch.optim.adam's fused kernel runs on `device` (CUDA always, the CPU from torch 2.4)."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        major, minor = (int(part) for part in torch.__version__.split(".")[:2])
        return (major, minor) >= (2, 4)
    return False


@dataclass
class SharedSteps:
    """One step count that several Adam optimisers advance together, as the one `iterations` variable of a Keras 2.1
    optimiser was for every model compiled with it: each step of any of them counts once, and each uses the count
    for its bias correction (the original prototype's four models kept their own moments but shared this)."""

    count: int = 0


class Adam:
    """Adam (betas 0.9 / 0.999, eps 1e-8) over a fixed list of parameters, with decoupled weight decay as AdamW's
    (`weight_decay`; 0 is plain Adam).

    A parameter without a gradient at a step is left alone, moments and decay included, so frozen groups stay
    frozen; its moments start at its first gradient, as torch.optim.Adam's lazy state does. With `shared_steps`,
    the bias correction counts the steps of every optimiser sharing it instead of this parameter's own."""

    def __init__(
        self,
        parameters: Iterable[torch.nn.Parameter],
        lr: float,
        weight_decay: float = 0.0,
        shared_steps: SharedSteps | None = None,
    ) -> None:
        self.parameters = list(parameters)
        self.lr = lr
        self.weight_decay = weight_decay
        self.shared_steps = shared_steps
        self.fused = bool(self.parameters) and _has_fused_kernel(self.parameters[0].device)
        self.state: dict[int, dict[str, torch.Tensor]] = {}  # parameter index -> step, exp_avg, exp_avg_sq
        # The fused kernel takes one device and dtype at a time; mixed parameters go through torch's own function
        self._one_group = len({(p.device, p.dtype) for p in self.parameters}) <= 1
        self._counts: dict[int, int] = {}  # parameter index -> its step count (kept by the fused and shared paths)
        self._moments: dict[tuple[int, ...], tuple[list[torch.Tensor], ...]] = {}  # per set of indices stepped

    def zero_grad(self) -> None:
        """Drop every gradient (set to None, so the next backward writes instead of adding)."""
        for parameter in self.parameters:
            parameter.grad = None

    @torch.inference_mode()  # cheaper dispatch than no_grad; the state it creates is only changed in here
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        indices = [i for i, parameter in enumerate(self.parameters) if parameter.grad is not None]
        if not indices:
            return
        for i in indices:
            if i not in self.state:
                self.state[i] = self._fresh_state(self.parameters[i])
                self._counts[i], self._moments = 0, {}
        if self.shared_steps is not None:  # every stepped parameter counts from the shared count before this step
            self.shared_steps.count += 1
            for i in indices:
                self._counts[i] = self.shared_steps.count - 1
        if self.fused and self._one_group:
            self._fused_step(tuple(indices))  # adds this step to the counts
            return
        if self.shared_steps is not None:  # torch's update below adds this step to state[i]["step"] itself
            for i in indices:
                self.state[i]["step"].fill_(self._counts[i])
                self._counts[i] += 1
        states = [self.state[i] for i in indices]
        adam_update(
            [self.parameters[i] for i in indices],
            [self.parameters[i].grad for i in indices],
            [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states],
            [],
            [state["step"] for state in states],
            foreach=None,
            fused=self.fused or None,
            amsgrad=False,
            beta1=BETAS[0],
            beta2=BETAS[1],
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=EPS,
            maximize=False,
            decoupled_weight_decay=self.weight_decay > 0,  # AdamW's kernel; without decay exactly Adam's call
        )

    def _fused_step(self, indices: tuple[int, ...]) -> None:
        """The fused kernel's update of `indices`, as torch.optim.adam's fused path does it (steps counted first)."""
        if indices not in self._moments:
            self._moments[indices] = (
                [self.parameters[i] for i in indices],
                [self.state[i]["exp_avg"] for i in indices],
                [self.state[i]["exp_avg_sq"] for i in indices],
            )
        parameters, exp_avgs, exp_avg_sqs = self._moments[indices]
        device = parameters[0].device
        counted: dict[int, torch.Tensor] = {}  # one tensor per step count: parameters trained alike share it
        for i in indices:
            count = self._counts[i] + 1
            if count not in counted:
                counted[count] = torch.tensor(float(count), dtype=torch.float32, device=device)
            self._counts[i], self.state[i]["step"] = count, counted[count]
        kernel = torch._fused_adamw_ if self.weight_decay > 0 else torch._fused_adam_
        kernel(
            parameters,
            [p.grad for p in parameters],
            exp_avgs,
            exp_avg_sqs,
            [],
            [self.state[i]["step"] for i in indices],
            amsgrad=False,
            lr=self.lr,
            beta1=BETAS[0],
            beta2=BETAS[1],
            weight_decay=self.weight_decay,
            eps=EPS,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )

    def steps_taken(self) -> int:
        """The highest step count of any of its parameters (the shared count at this optimiser's last step)."""
        return max(self._counts.values(), default=0)

    def _fresh_state(self, parameter: torch.Tensor) -> dict[str, torch.Tensor]:
        """Zero moments for `parameter`; the step count lives where torch.optim.Adam keeps it."""
        if self.fused:
            step = torch.zeros((), dtype=torch.float32, device=parameter.device)
        else:
            step = torch.tensor(0.0, dtype=torch.float32)
        return {
            "step": step,
            "exp_avg": torch.zeros_like(parameter, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(parameter, memory_format=torch.preserve_format),
        }

    def state_dict(self) -> dict[str, Any]:
        """The moments and step counts by parameter index, and the learning rate, as torch.optim.Adam lays them out."""
        group = {
            "lr": self.lr,
            "betas": BETAS,
            "eps": EPS,
            "weight_decay": self.weight_decay,
            "decoupled_weight_decay": True,
            "amsgrad": False,
            "maximize": False,
            "fused": self.fused,
            "params": list(range(len(self.parameters))),
        }
        # Cloned: the fused path shares one step tensor among parameters with equal counts, torch.optim.Adam, loading
        # this, adds 1 to each in place, and `step` creates the moments in inference mode, where only it changes them.
        states = {i: {key: value.clone() for key, value in state.items()} for i, state in self.state.items()}
        return {"state": states, "param_groups": [group]}

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Take the state `state_dict` (or torch.optim.Adam's, one group) wrote; a saved file is data, so every
        piece is checked before any is used."""
        groups = saved.get("param_groups") if isinstance(saved, Mapping) else None
        states = saved.get("state") if isinstance(saved, Mapping) else None
        if not isinstance(groups, list) or len(groups) != 1 or not isinstance(states, Mapping):
            raise SharedLatentError("the saved optimiser state is not one group of Adam state")
        group = groups[0]
        lr = group.get("lr") if isinstance(group, Mapping) else None
        params = group.get("params") if isinstance(group, Mapping) else None
        if not is_number(lr) or not math.isfinite(lr) or lr <= 0:
            raise SharedLatentError(f"the saved optimiser state has learning rate {lr!r}, not a positive number")
        if not isinstance(params, list) or len(params) != len(self.parameters):
            count = len(params) if isinstance(params, list) else "no"
            raise SharedLatentError(
                f"the saved optimiser state covers {count} parameters; this model has {len(self.parameters)}"
            )
        position = {saved_id: index for index, saved_id in enumerate(params)}
        restored = {}
        for saved_id, state in states.items():
            if saved_id not in position or not isinstance(state, Mapping):
                raise SharedLatentError(f"the saved optimiser state has an entry {saved_id!r} for no parameter")
            index = position[saved_id]
            restored[index] = self._checked_state(index, state)
        self.lr, self.state = float(lr), restored
        self._counts = {i: int(state["step"]) for i, state in restored.items()}
        self._moments = {}

    def _checked_state(self, index: int, state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Parameter `index`'s saved state as tensors on its device, or a one-line error naming what is wrong."""
        parameter = self.parameters[index]
        fresh = self._fresh_state(parameter)
        where = f"the saved optimiser state of parameter {index}"
        for key, shape in (("step", ()), ("exp_avg", parameter.shape), ("exp_avg_sq", parameter.shape)):
            value = state.get(key)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(shape):
                raise SharedLatentError(f"{where} has no {key} of shape {tuple(shape)}")
            if not value.dtype.is_floating_point:
                raise SharedLatentError(f"{where} has {key} of type {value.dtype}, not real floating point")
            if not torch.isfinite(value).all():
                raise SharedLatentError(f"{where} has a non-finite {key}")
            if key != "exp_avg" and (value < 0).any():
                raise SharedLatentError(f"{where} has a negative {key}")
            if key == "step" and (value != value.round() or value < 1):
                raise SharedLatentError(f"{where} has a step count of {float(value)}, not a whole number from 1")
            fresh[key].copy_(value)  # into the parameter's own layout: the fused kernel assumes it
        if (fresh["exp_avg"].square() > MOMENT_RATIO_BOUND * fresh["exp_avg_sq"] * 1.01 + 1e-30).any():
            raise SharedLatentError(f"{where} has moments no gradients can give (exp_avg^2 > 52.9 exp_avg_sq)")
        return fresh


class PhaseOptimizers:
    """The Adam each phase of a fit steps. By default one serves every phase. With `per_phase`, each phase gets its
    own (its own moments) on first use, all with one learning rate and one step count (SharedSteps), as the original
    prototype's four compiled Keras models had: its alternating phases each started from fresh moments."""

    def __init__(
        self, parameters: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.0, per_phase: bool = False
    ) -> None:
        self.parameters = list(parameters)
        self.weight_decay = weight_decay
        self.shared_steps = SharedSteps() if per_phase else None
        self._lr = lr
        self.by_phase: dict[str, Adam] = {}
        self.single = None if per_phase else Adam(self.parameters, lr, weight_decay)

    def for_phase(self, name: str) -> Adam:
        """The optimiser phase `name` steps."""
        if self.single is not None:
            return self.single
        if name not in self.by_phase:
            self.by_phase[name] = Adam(self.parameters, self._lr, self.weight_decay, self.shared_steps)
        return self.by_phase[name]

    @property
    def lr(self) -> float:
        """The learning rate every phase's Adam steps with; setting it sets theirs."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = value
        for adam in [self.single] if self.single is not None else self.by_phase.values():
            adam.lr = value

    def state_dict(self) -> dict[str, Any]:
        """One Adam's state_dict; per phase, each phase's and the shared step count."""
        if self.single is not None:
            return self.single.state_dict()
        assert self.shared_steps is not None
        return {
            "per_phase": {name: adam.state_dict() for name, adam in self.by_phase.items()},
            "steps": self.shared_steps.count,
        }

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Take what `state_dict` wrote, checked as Adam.load_state_dict checks each piece."""
        if self.single is not None:
            self.single.load_state_dict(saved)
            self._lr = self.single.lr
            return
        assert self.shared_steps is not None
        phases = saved.get("per_phase") if isinstance(saved, Mapping) else None
        steps = saved.get("steps") if isinstance(saved, Mapping) else None
        if not isinstance(phases, Mapping) or not is_count(steps) or not all(isinstance(n, str) for n in phases):
            raise SharedLatentError("the saved optimiser state is not one Adam per phase and a step count")
        restored = {}
        for name, state in phases.items():
            adam = Adam(self.parameters, self._lr, self.weight_decay, self.shared_steps)
            try:
                adam.load_state_dict(state)
            except SharedLatentError as error:
                raise SharedLatentError(f"phase {name!r}: {error}") from None
            restored[name] = adam
        last = max((adam.steps_taken() for adam in restored.values()), default=0)
        if last != steps:
            raise SharedLatentError(f"the saved optimisers' last step is {last}, not their shared count {steps}")
        rates = {adam.lr for adam in restored.values()}
        if len(rates) > 1:
            raise SharedLatentError(f"the saved optimisers of the phases have different learning rates {sorted(rates)}")
        self.by_phase, self.shared_steps.count = restored, steps
        self._lr = rates.pop() if rates else self._lr


class HasLearningRate(Protocol):
    """What PlateauDecay lowers: an Adam or a fit's PhaseOptimizers."""

    lr: float


class PlateauDecay:
    """Multiply `optimizer.lr` by `factor` after more than `patience` epochs without a lower loss (torch's
    ReduceLROnPlateau in mode "min" with its default relative threshold of 1e-4 and no cooldown)."""

    def __init__(self, optimizer: HasLearningRate, factor: float, patience: int) -> None:
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.best, self.num_bad_epochs = math.inf, 0

    def step(self, loss: float) -> None:
        """Record one epoch's monitored loss; decay the learning rate when the plateau has lasted long enough."""
        if loss < self.best * (1 - PLATEAU_THRESHOLD):
            self.best, self.num_bad_epochs = loss, 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.patience:
            lowered = self.optimizer.lr * self.factor
            if self.optimizer.lr - lowered > PLATEAU_MIN_CHANGE:
                self.optimizer.lr = lowered
            self.num_bad_epochs = 0

    def state_dict(self) -> dict[str, float | int]:
        return {"best": self.best, "num_bad_epochs": self.num_bad_epochs}

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Take `state_dict`'s values (ReduceLROnPlateau's state has the same two keys among others)."""
        best, bad = (saved.get(key) if isinstance(saved, Mapping) else None for key in ("best", "num_bad_epochs"))
        if not is_number(best) or not -math.inf < best <= math.inf or not is_count(bad):
            raise SharedLatentError("the saved learning-rate decay state is not a best loss and an epoch count")
        self.best, self.num_bad_epochs = float(best), bad
