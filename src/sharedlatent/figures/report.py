"""One self-contained report.html per run: metrics as tables, figures embedded as data URIs, the config."""

from __future__ import annotations

import base64
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.storage import atomic_path

REPORT_FILE = "report.html"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.4rem; }
.folder { color: #666; font-size: 0.9rem; }
.wide { overflow-x: auto; }
td:first-child { white-space: nowrap; }
table { border-collapse: collapse; font-size: 0.9rem; margin-bottom: 0.8rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; }
th { background: #f3f3f3; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.baseline td { color: #777; font-style: italic; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""


@dataclass
class MetricTable:
    """One section of the metrics: key/value pairs at its top, and rows (a path of keys) by metric columns."""

    title: str
    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def groups(self) -> list[tuple[list[str], list[tuple[str, ...]]]]:
        """Rows sharing the same metric names, with those names: each group is drawn as one table."""
        grouped: dict[frozenset[str], tuple[list[str], list[tuple[str, ...]]]] = {}
        for row, cells in self.rows.items():
            grouped.setdefault(frozenset(cells), (list(cells), []))[1].append(row)
        return list(grouped.values())


def metric_tables(metrics: Mapping[str, Any]) -> list[MetricTable]:
    """Flatten nested metrics: a table per top-level key, a row per path of keys, a column per leaf name."""
    summary = MetricTable("summary")
    tables = [summary]
    for key, value in metrics.items():
        if not isinstance(value, Mapping):
            summary.values[str(key)] = value
            continue
        table = MetricTable(str(key))
        for name, inner in value.items():
            if isinstance(inner, Mapping):
                _collect_rows(table, (str(name),), inner)
            else:
                table.values[str(name)] = inner
        tables.append(table)
    return [table for table in tables if table.values or table.rows]


def _collect_rows(table: MetricTable, row: tuple[str, ...], values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, Mapping):
            _collect_rows(table, row + (str(name),), value)
        else:
            table.rows.setdefault(row, {})[str(name)] = value


def format_value(value: Any) -> str:
    """A metric as short text: floats to 4 significant digits, lists by their length when long."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        number = float(value)
        return "nan" if math.isnan(number) else f"{number:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) if len(value) <= 6 else f"[{len(value)} values]"
    return str(value)


def _cell(value: Any) -> str:
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return (
        f'<td class="number">{escape(format_value(value))}</td>'
        if numeric
        else f"<td>{escape(format_value(value))}</td>"
    )


def table_html(table: MetricTable) -> str:
    """HTML for one metric section; rows whose section or path names a baseline are set apart."""
    parts = [f"<h3>{escape(table.title)}</h3>"]
    if table.values:
        parts.append("<table><tr><th>metric</th><th>value</th></tr>")
        parts += [f"<tr><td>{escape(name)}</td>{_cell(value)}</tr>" for name, value in table.values.items()]
        parts.append("</table>")
    for columns, rows in table.groups():
        parts.append(
            '<div class="wide"><table><tr><th></th>' + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
        )
        for row in rows:
            baseline = any("baseline" in key.lower() for key in (table.title, *row))
            opening = '<tr class="baseline">' if baseline else "<tr>"
            body = "".join(_cell(table.rows[row][c]) for c in columns)
            parts.append(f"{opening}<td>{escape(' / '.join(row))}</td>{body}</tr>")
        parts.append("</table></div>")
    return "\n".join(parts)


def figure_html(path: Path) -> str:
    """An <img> with the PNG inline as a base64 data URI, captioned with its file name."""
    path = Path(path)
    if not path.is_file():
        raise SharedLatentError(f"figure {path} does not exist; cannot embed it in the report")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = escape(path.stem.replace("_", " "))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'
    )


TEXT_SECTIONS = ("verdict", "baseline_notes")  # lists of sentences, shown as text above the tables


def write_report(
    run_folder: Path,
    *,
    metrics: Mapping[str, Any],
    figures: Sequence[Path],
    title: str,
    config_text: str = "",
    subtitle: str = "",
    file_name: str = REPORT_FILE,
    chosen_settings: Mapping[str, str] | None = None,
    rule_settings: Mapping[str, str] | None = None,
) -> Path:
    """Write run_folder/report.html (or `file_name`): readable offline, with nothing fetched from elsewhere.

    Parameters
    ----------
    run_folder
        The folder the report is written into.
    metrics
        Nested metrics, drawn as one table per top-level key.
    figures
        PNG files, embedded in this order.
    title
        The page's heading.
    config_text
        The run's config.toml, shown verbatim.
    subtitle
        A line under the heading; the folder's path when empty.
    file_name
        The report's name inside `run_folder`.
    chosen_settings
        Domain -> what fit chose for its "auto" likelihood and preprocessing, and why (shown above the config).
    rule_settings
        Setting -> the value training used where the config leaves it to a rule (input noise, weight decay, weight
        average).
    """
    run_folder = Path(run_folder)
    shown = {key: value for key, value in metrics.items() if key not in TEXT_SECTIONS}
    metric_section = "\n".join(table_html(table) for table in metric_tables(shown)) or "<p>No metrics.</p>"
    verdict = "".join(f"<li>{escape(str(line))}</li>" for line in metrics.get("verdict", []))
    notes = "".join(f"<li>{escape(str(line))}</li>" for line in metrics.get("baseline_notes", []))
    figure_section = "\n".join(figure_html(path) for path in figures) or "<p>No figures.</p>"
    chosen = "".join(f"<li>{escape(name)}: {escape(text)}</li>" for name, text in (chosen_settings or {}).items())
    ruled = ", ".join(f"{escape(name)} {escape(text)}" for name, text in (rule_settings or {}).items())
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="folder">{escape(subtitle or str(run_folder))}</p>
<h2>Against simple baselines</h2>
<p>Translation error (standardised MSE) as a multiple of ridge regression, k-nearest neighbours and the
training mean, all fitted on the same training rows.</p>
<ul class="verdict">{verdict or "<li>not computed</li>"}</ul>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Metrics</h2>
{metric_section}
<h2>Figures</h2>
{figure_section}
<h2>Configuration</h2>
{f"<p>Settings chosen from the training data (written into the config below):</p><ul>{chosen}</ul>" if chosen else ""}
{f"<p>Training used {ruled} (as the config below sets them or, where it leaves them unset, as the preprocessing and the number of training rows imply).</p>" if ruled else ""}
<pre>{escape(config_text)}</pre>
</body>
</html>
"""
    path = run_folder / file_name
    with atomic_path(path) as temporary:
        temporary.write_text(document, encoding="utf-8")
    return path
