"""Metrics as plain-text tables for the terminal: one run, or several side by side."""

from __future__ import annotations

from typing import Any


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metric dicts as {"translation/left->right/mse": value} for every numeric leaf."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat |= flatten_metrics(value, name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def metrics_table(metrics: dict[str, Any]) -> str:
    """One row per metric, grouped by section, with the mean-predictor baseline next to each error."""
    flat = flatten_metrics(metrics)
    width = max(len(name) for name in flat) if flat else 10
    lines = [f"{'metric':<{width}}  value"]
    for name, value in flat.items():
        lines.append(f"{name:<{width}}  {_format(value)}")
    return "\n".join(lines)


def comparison_table(runs: dict[str, dict[str, Any]]) -> str:
    """Metrics of several runs in columns; a metric missing from a run shows as '-'."""
    flats = {name: flatten_metrics(metrics) for name, metrics in runs.items()}
    keys = list(dict.fromkeys(key for flat in flats.values() for key in flat))
    width = max([len(k) for k in keys] + [6])
    columns = [name if len(name) <= 24 else "..." + name[-21:] for name in flats]
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{c:>24}" for c in columns)]
    for key in keys:
        cells = [_format(flat[key]) if key in flat else "-" for flat in flats.values()]
        lines.append(f"{key:<{width}}  " + "  ".join(f"{cell:>24}" for cell in cells))
    return "\n".join(lines)


def _format(value: float) -> str:
    return f"{value:.4g}"
