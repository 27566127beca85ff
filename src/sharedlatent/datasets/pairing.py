"""Pair the rows of several domains by sample ID and report how many each domain kept and dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sharedlatent.errors import SharedLatentError


@dataclass(frozen=True)
class DomainMatch:
    """How many rows of one domain's source were kept when pairing."""

    domain: str
    source: str
    rows: int
    matched: int

    @property
    def dropped(self) -> int:
        return self.rows - self.matched


@dataclass(frozen=True)
class MatchReport:
    """The outcome of pairing rows across domains: what they were paired by and the counts per domain."""

    paired_by: str
    domains: tuple[DomainMatch, ...]

    @property
    def matched(self) -> int:
        return self.domains[0].matched

    def summary(self) -> str:
        counts = "; ".join(f"{d.domain}: {d.matched} of {d.rows} rows kept, {d.dropped} dropped" for d in self.domains)
        return f"{self.matched} samples paired by {self.paired_by} ({counts})"


def check_unique(ids: np.ndarray, source: str, what: str = "sample IDs") -> None:
    """Refuse duplicated IDs, which would make pairing ambiguous."""
    values, counts = np.unique(np.asarray(ids).astype(str), return_counts=True)
    duplicated = values[counts > 1]
    if duplicated.size:
        raise SharedLatentError(f"{source}: {duplicated.size} duplicated {what} such as {str(duplicated[0])!r}; they must be unique")


def pair_by_ids(ids: dict[str, np.ndarray], sources: dict[str, str], paired_by: str) -> tuple[dict[str, np.ndarray], np.ndarray, MatchReport]:
    """Row indices per domain for the IDs all domains share (in the first domain's order), the IDs and a report."""
    ids = {domain: np.asarray(values).astype(str) for domain, values in ids.items()}
    for domain, values in ids.items():
        check_unique(values, sources[domain])
    first = next(iter(ids.values()))
    common = set.intersection(*(set(values) for values in ids.values()))
    shared = np.array([sample for sample in first if sample in common], dtype=str)
    if shared.size == 0:
        examples = "; ".join(f"{sources[d]}: {[str(x) for x in v[:3]]}" for d, v in ids.items())
        raise SharedLatentError(f"no sample IDs are shared between the domains ({examples})")
    rows = {}
    for domain, values in ids.items():
        position = {sample: row for row, sample in enumerate(values)}
        rows[domain] = np.array([position[sample] for sample in shared], dtype=np.int64)
    report = MatchReport(paired_by, tuple(DomainMatch(d, sources[d], len(v), shared.size) for d, v in ids.items()))
    return rows, shared, report
