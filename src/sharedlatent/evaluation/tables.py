"""Metrics as plain-text tables for the terminal: one run by section, or several runs side by side."""

from __future__ import annotations

from typing import Any

BASELINE_SECTION = "baseline_mean_predictor"
DESCRIPTIVE_KEYS = ("split", "dataset", "layout", "schedule")


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
    """One table per section (rows: domain or direction; columns: metrics), errors next to the mean-predictor baseline."""
    baseline = metrics.get(BASELINE_SECTION, {})
    text = [*metrics.get("verdict", []), *metrics.get("baseline_notes", [])]
    blocks = ["\n".join(f"verdict   {line}" for line in text)] if text else []
    blocks.append(
        "\n".join(
            f"{key}: {_format(value) if isinstance(value, float) else value}"
            for key, value in metrics.items()
            if not isinstance(value, (dict, list))
        )
    )
    for section, rows in metrics.items():
        if not isinstance(rows, dict) or section == BASELINE_SECTION:
            continue
        table = {
            row: flatten_metrics(values) if isinstance(values, dict) else {"value": float(values)}
            for row, values in rows.items()
            if isinstance(values, dict) or _is_number(values)
        }
        if section in ("reconstruction", "translation"):
            for row, values in table.items():
                target = row.split("->")[-1]
                if target in baseline:
                    values["mean_predictor_mse"] = float(baseline[target]["mse"])
                    values["mean_predictor_mae"] = float(baseline[target]["mae"])
        texts = [f"{section} {row}: {value}" for row, value in rows.items() if isinstance(value, str)]
        blocks.append("\n".join([_grid(section, table), *texts]))
    return "\n\n".join(blocks)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _grid(title: str, table: dict[str, dict[str, float]]) -> str:
    columns = list(dict.fromkeys(column for values in table.values() for column in values))
    width = max([len(title)] + [len(row) for row in table])
    cells = {column: max(len(column), 9) for column in columns}
    lines = [f"{title:<{width}}  " + "  ".join(f"{column:>{cells[column]}}" for column in columns)]
    for row, values in table.items():
        lines.append(
            f"{row:<{width}}  "
            + "  ".join(f"{_format(values[c]) if c in values else '-':>{cells[c]}}" for c in columns)
        )
    return "\n".join(lines)


def comparison_table(runs: dict[str, dict[str, Any]]) -> str:
    """Metrics of several runs in columns; a metric missing from a run shows as '-'."""
    flats = {name: flatten_metrics(metrics) for name, metrics in runs.items()}
    keys = list(dict.fromkeys(key for flat in flats.values() for key in flat))
    width = max([len(k) for k in (*keys, *DESCRIPTIVE_KEYS)] + [6])
    columns = [_shortened(name) for name in flats]
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{c:>24}" for c in columns)]
    for label in DESCRIPTIVE_KEYS:  # which split, data and schedule each column's numbers come from
        cells = [_shortened(str(metrics.get(label, "-"))) for metrics in runs.values()]
        lines.append(f"{label:<{width}}  " + "  ".join(f"{cell:>24}" for cell in cells))
    for key in keys:
        cells = [_format(flat[key]) if key in flat else "-" for flat in flats.values()]
        lines.append(f"{key:<{width}}  " + "  ".join(f"{cell:>24}" for cell in cells))
    return "\n".join(lines)


def _shortened(text: str, width: int = 24) -> str:
    """`text` cut to `width` characters by dropping its middle ("left8-96...32-16"): layouts differ at the start,
    run paths at the end, so both ends stay."""
    if len(text) <= width:
        return text
    head = (width - 3) // 2
    return text[:head] + "..." + text[-(width - 3 - head) :]


def _format(value: float) -> str:
    return f"{value:.4g}"
