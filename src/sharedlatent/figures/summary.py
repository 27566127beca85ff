"""A model's layout as plain data (layers, widths, parameter counts) and as a text diagram; no torch import."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sharedlatent.names import JointPosterior

# How each joint posterior of names.JOINT_POSTERIORS (tests check all are here) combines several domains, in words and as the merge node's label.
JOINING: dict[JointPosterior, tuple[str, str]] = {
    "mean": ("several domains' branches are averaged before the heads", "mean"),
    "poe": (
        "several domains: product of experts, each branch's Gaussian from the heads times the N(0, I) prior",
        "PoE",
    ),
    "moe": ("several domains: mixture of experts, each branch's Gaussian from the heads with equal weight", "MoE"),
}


@dataclass(frozen=True)
class LayerSummary:
    """One dense layer: input and output widths, the activation after it and its parameter count."""

    in_width: int
    out_width: int
    activation: str
    parameters: int


@dataclass
class ModelSummary:
    """The layout of a shared latent model as plain data: what the diagrams draw."""

    input_sizes: dict[str, int]
    encoders: dict[str, list[LayerSummary]]
    shared_encoder: list[LayerSummary]
    z_mean: LayerSummary
    z_log_sigma: LayerSummary
    shared_decoder: list[LayerSummary]
    decoders: dict[str, list[LayerSummary]]
    likelihoods: dict[str, str] = field(default_factory=dict)
    likelihood_parameters: dict[str, int] = field(default_factory=dict)  # learned outside the layers (variances, ...)
    joint_posterior: str = "mean"

    @property
    def domain_names(self) -> list[str]:
        return list(self.input_sizes)

    @property
    def latent_size(self) -> int:
        return self.z_mean.out_width

    @property
    def shared_parameters(self) -> int:
        return count_parameters(self.shared_encoder + [self.z_mean, self.z_log_sigma] + self.shared_decoder)

    def private_parameters(self, domain: str) -> int:
        """Encoder, decoder and likelihood parameters of one domain."""
        layers = count_parameters(self.encoders[domain]) + count_parameters(self.decoders[domain])
        return layers + self.likelihood_parameters.get(domain, 0)

    @property
    def parameters(self) -> int:
        return self.shared_parameters + sum(self.private_parameters(d) for d in self.domain_names)

    def joining(self) -> tuple[str, str]:
        """How several domains are combined: a sentence and a short label."""
        fallback = (
            f"several domains are combined by the {self.joint_posterior!r} joint posterior",
            self.joint_posterior,
        )
        return JOINING.get(self.joint_posterior, fallback)

    def likelihood_text(self, domain: str) -> str:
        """The domain's likelihood name, with its own learned parameters when it has any."""
        name, count = self.likelihoods.get(domain, ""), self.likelihood_parameters.get(domain, 0)
        return f"{name}, {count:,} params" if name and count else name


def count_parameters(layers: Sequence[LayerSummary]) -> int:
    return sum(layer.parameters for layer in layers)


def describe_model(module: Any) -> ModelSummary:
    """Read the layer shapes of a SharedLatentModule (or anything with its attributes) into a ModelSummary."""
    names = list(module.input_sizes)
    likelihoods = {name: module.likelihoods[name] for name in names}
    heads = _dense_layers(module.z_mean), _dense_layers(module.z_log_sigma)
    posterior = getattr(module, "joint_posterior", None)
    return ModelSummary(
        input_sizes={name: int(size) for name, size in module.input_sizes.items()},
        encoders={name: _dense_layers(module.encoders[name]) for name in names},
        shared_encoder=_dense_layers(module.shared_encoder),
        z_mean=heads[0][0],
        z_log_sigma=heads[1][0],
        shared_decoder=_dense_layers(module.shared_decoder),
        decoders={name: _dense_layers(module.decoders[name]) for name in names},
        likelihoods={
            name: getattr(likelihood, "name", type(likelihood).__name__) for name, likelihood in likelihoods.items()
        },
        likelihood_parameters={name: _count(likelihood) for name, likelihood in likelihoods.items()},
        joint_posterior=getattr(posterior, "name", "mean"),
    )


def _count(module: Any) -> int:
    """Parameters of a torch module; 0 for anything without them."""
    return sum(p.numel() for p in module.parameters()) if hasattr(module, "parameters") else 0


def _dense_layers(block: Any) -> list[LayerSummary]:
    """Linear layers of a (nested) sequential block in order, each with the activation that follows it."""
    found: list[dict] = []

    def visit(module: Any) -> None:
        if hasattr(module, "in_features") and hasattr(module, "out_features"):
            layer = {"in_width": int(module.in_features), "out_width": int(module.out_features), "activation": ""}
            found.append(layer | {"parameters": _count(module)})
            return
        children = list(module.children())
        if children:
            for child in children:
                visit(child)
        elif found and not found[-1]["activation"] and type(module).__name__ != "Identity":
            found[-1]["activation"] = type(module).__name__

    visit(block)
    return [LayerSummary(**layer) for layer in found]


def _chain(input_width: int, layers: Sequence[LayerSummary]) -> str:
    steps = [str(input_width)] + [
        f"{layer.out_width}{' ' + layer.activation if layer.activation else ''}" for layer in layers
    ]
    return " -> ".join(steps)


def model_text_diagram(summary: ModelSummary) -> str:
    """The model as ASCII, top to bottom: encoders, shared encoder, heads, latent, shared decoder, decoders."""
    names = summary.domain_names
    branch_width = summary.shared_encoder[0].in_width if summary.shared_encoder else summary.z_mean.in_width
    shared_bottom = summary.shared_decoder[-1].out_width if summary.shared_decoder else summary.latent_size
    groups = [
        [
            (f"{n} encoder", _chain(summary.input_sizes[n], summary.encoders[n]), count_parameters(summary.encoders[n]))
            for n in names
        ]
    ]
    if summary.shared_encoder:
        shared = _chain(branch_width, summary.shared_encoder)
        groups.append([("shared encoder", shared, count_parameters(summary.shared_encoder))])
    # "mean" joins the branches before the heads; the experts posteriors join the heads' Gaussians after them
    joined_at = len(groups) + (0 if summary.joint_posterior == "mean" else 1)
    groups.append(
        [
            ("z_mean", _chain(summary.z_mean.in_width, [summary.z_mean]), summary.z_mean.parameters),
            (
                "z_log_sigma",
                _chain(summary.z_log_sigma.in_width, [summary.z_log_sigma]),
                summary.z_log_sigma.parameters,
            ),
        ]
    )
    groups.append([("latent z", f"{summary.latent_size}  (z = z_mean + exp(z_log_sigma) * noise)", 0)])
    if summary.shared_decoder:
        shared = _chain(summary.latent_size, summary.shared_decoder)
        groups.append([("shared decoder", shared, count_parameters(summary.shared_decoder))])
    decoders = []
    for n in names:
        likelihood = summary.likelihood_text(n)
        text = _chain(shared_bottom, summary.decoders[n]) + (f"  [{likelihood}]" if likelihood else "")
        decoders.append(
            (f"{n} decoder", text, count_parameters(summary.decoders[n]) + summary.likelihood_parameters.get(n, 0))
        )
    groups.append(decoders)

    rows = [row for group in groups for row in group]
    label_width = max(len(label) for label, _, _ in rows) + 4
    text_width = max(len(text) for _, text, _ in rows) + 2
    domains = f"{len(names)} domains ({', '.join(names)})"
    lines = [f"Shared latent VAE: {domains}, latent size {summary.latent_size}, {summary.parameters:,} parameters", ""]
    for index, group in enumerate(groups):
        if index:
            note = "   " + summary.joining()[0] if index == joined_at and len(names) > 1 else ""
            lines += ["      |", "      v" + note]
        for label, text, parameters in group:
            count = f"{parameters:>10,} params" if parameters else ""
            lines.append(f"  [{label}]".ljust(label_width + 2) + text.ljust(text_width) + count)
    return "\n".join(line.rstrip() for line in lines) + "\n"
