"""Pair the rows of several domains by sample ID and report how many each domain kept and dropped.

Two modes: "inner" keeps the samples every domain has; "outer" keeps every sample of every domain, marks the
domains a sample lacks with row index -1 (see `gather_rows`) and counts paired and single-domain samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sharedlatent.errors import SharedLatentError, listed

PAIRING_MODES = ("inner", "outer")


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
    mode: str = "inner"
    paired: int | None = None  # outer mode: samples every domain has
    only: tuple[tuple[str, int], ...] = ()  # outer mode: (domain, samples only that domain has)
    total: int | None = None  # outer mode: samples in any domain

    @property
    def matched(self) -> int:
        """Samples that every domain has."""
        return self.domains[0].matched if self.paired is None else self.paired

    def summary(self) -> str:
        if self.mode == "outer":
            only = ", ".join(f"{count} {domain}-only" for domain, count in self.only)
            partial = (self.total or 0) - self.matched - sum(count for _, count in self.only)
            rest = f", {partial} in some but not all domains" if partial else ""
            return f"{self.total} samples by {self.paired_by} (outer pairing): {self.matched} paired, {only}{rest}"
        counts = "; ".join(f"{d.domain}: {d.matched} of {d.rows} rows kept, {d.dropped} dropped" for d in self.domains)
        return f"{self.matched} samples paired by {self.paired_by} ({counts})"


def check_unique(ids: np.ndarray, source: str, what: str = "sample IDs") -> None:
    """Refuse duplicated IDs, which would make pairing ambiguous."""
    values, counts = np.unique(np.asarray(ids).astype(str), return_counts=True)
    duplicated = values[counts > 1]
    if duplicated.size:
        raise SharedLatentError(
            f"{source}: {duplicated.size} duplicated {what} such as {str(duplicated[0])!r}; they must be unique"
        )


def pair_by_ids(
    ids: dict[str, np.ndarray], sources: dict[str, str], paired_by: str, mode: str = "inner"
) -> tuple[dict[str, np.ndarray], np.ndarray, MatchReport]:
    """Row indices per domain for the IDs all domains share (in the first domain's order), the IDs and a report.

    mode "outer" keeps every ID of any domain (the first domain's, then each next domain's new ones, in file
    order); a domain's row index is -1 where it lacks the sample."""
    if mode not in PAIRING_MODES:
        raise SharedLatentError(f"pairing must be one of {PAIRING_MODES}, got {mode!r}")
    if mode == "outer":
        return pair_by_ids_outer(ids, sources, paired_by)
    ids = {domain: np.asarray(values).astype(str) for domain, values in ids.items()}
    for domain, values in ids.items():
        check_unique(values, sources[domain])
    # Sorted numpy string arrays, not Python sets and dicts: pairing 1M cells peaked 0.5 GiB higher with those.
    first = next(iter(ids.values()))
    kept = np.ones(first.size, dtype=bool)
    for values in list(ids.values())[1:]:
        kept &= np.isin(first, values, assume_unique=True)
    shared = first[kept]
    if shared.size == 0:
        examples = "; ".join(f"{sources[d]}: {[str(x) for x in v[:3]]}" for d, v in ids.items())
        raise SharedLatentError(f"no sample IDs are shared between the domains ({examples})")
    rows = {}
    for domain, values in ids.items():
        order = np.argsort(values)
        rows[domain] = order[np.searchsorted(values, shared, sorter=order)].astype(np.int64)
    report = MatchReport(paired_by, tuple(DomainMatch(d, sources[d], len(v), shared.size) for d, v in ids.items()))
    return rows, shared, report


def pair_by_ids_outer(
    ids: dict[str, np.ndarray], sources: dict[str, str], paired_by: str
) -> tuple[dict[str, np.ndarray], np.ndarray, MatchReport]:
    """pair_by_ids in outer mode: the union of IDs, -1 rows where a domain lacks a sample, and paired / only counts."""
    ids = {domain: np.asarray(values).astype(str) for domain, values in ids.items()}
    for domain, values in ids.items():
        check_unique(values, sources[domain])
    union = np.array(list(dict.fromkeys(sample for values in ids.values() for sample in values)), dtype=str)
    rows = {}
    for domain, values in ids.items():
        position = {sample: row for row, sample in enumerate(values)}
        rows[domain] = np.array([position.get(sample, -1) for sample in union], dtype=np.int64)
    present = np.array([r >= 0 for r in rows.values()])
    per_sample = present.sum(axis=0)
    paired = int((per_sample == len(ids)).sum())
    if paired == 0:
        examples = "; ".join(f"{sources[d]}: {[str(x) for x in v[:3]]}" for d, v in ids.items())
        raise SharedLatentError(f"no sample IDs are shared between the domains, so nothing links them ({examples})")
    only = tuple((domain, int((present[i] & (per_sample == 1)).sum())) for i, domain in enumerate(ids))
    matches = tuple(DomainMatch(d, sources[d], len(v), len(v)) for d, v in ids.items())
    return rows, union, MatchReport(paired_by, matches, "outer", paired, only, len(union))


def presence_of(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Boolean presence per domain from pair_by_ids rows (-1 = absent); None when every sample has every domain."""
    present = {domain: r >= 0 for domain, r in rows.items()}
    return None if all(mask.all() for mask in present.values()) else present


def gather_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """values[rows] as float32, with zero rows where the index is -1 (a sample the domain lacks)."""
    out = np.zeros((len(rows), values.shape[1]), dtype=np.float32)
    found = rows >= 0
    out[found] = values[rows[found]]
    return out


def check_unique_features(names: list[str], source: str) -> None:
    """Refuse repeated feature names in one line: new samples are later matched to a domain by feature name."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        if name in seen:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise SharedLatentError(
            f"{source}: feature names are not unique ({listed(repeated)}); run .var_names_make_unique() on it first"
        )
