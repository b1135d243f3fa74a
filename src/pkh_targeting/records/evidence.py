"""Evidence tables (``contract/evidence.yaml``): records of other registries and community reports,
read and validated with the same quarantine as the household records: nothing is dropped silently."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._coercion import coerce_table
from ._problems import Problems, column_rules
from .contract import EVIDENCE_TABLES, table_spec
from .keys import isin, normalize_text
from .reading import read_table, standardize_columns
from .validation import as_reference_date


@dataclass
class EvidenceResult:
    """Outcome of `validate_evidence`: ``.valid`` rows (contract dtypes, indexed by their 0-based input
    row) and ``.quarantine`` (``table, row, key, column, value, rule, message``; personal data masked)."""

    table: str
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    n_read: int = 0
    counts: dict = field(default_factory=dict)

    def summary(self) -> pd.Series:
        """Rows read, valid and quarantined."""
        return pd.Series(
            {"read": self.n_read, "valid": len(self.valid), "quarantined": self.quarantine["row"].nunique()},
            name=self.table,
        )


def read_evidence(path, table: str, *, sheet=None) -> pd.DataFrame:
    """Read an evidence table (CSV, Parquet or Excel) with the contract's column names (`read_table`)."""
    if table not in EVIDENCE_TABLES:
        raise ValueError(f"table must be one of {EVIDENCE_TABLES}, got {table!r}.")
    return read_table(path, table, sheet=sheet)


def validate_evidence(df: pd.DataFrame, table: str, *, families=None, reference_date=None) -> EvidenceResult:
    """Check an evidence table against its contract; quarantine each row that fails, with its reason.

    Besides the contract's column rules: a duplicated key, a date after ``reference_date`` (today by
    default), a birth date after the record's date, and (``families`` given) a report about a family
    that is not in the batch.

    Examples
    --------
    >>> import pandas as pd
    >>> rec = pd.DataFrame({"source": ["vehicle", "boat"], "record_id": ["1", "2"], "nik": None,
    ...     "full_name": "Budi", "birth_date": "1980-02-01", "sex": 1, "regency_code": "3302",
    ...     "value": 1.0, "as_of": "2025-06-30"})
    >>> res = validate_evidence(rec, "registry_records", reference_date="2026-01-01")
    >>> len(res.valid), res.quarantine[["key", "column", "rule"]].to_dict("records")
    (1, [{'key': 'boat/2', 'column': 'source', 'rule': 'codes'}])
    """
    ref = as_reference_date(reference_date)
    raw = standardize_columns(df, table).reset_index(drop=True)
    problems = Problems(table, raw)
    out, failed = coerce_table(raw, table, problems)
    column_rules(out, table, problems, failed)
    _row_rules(out, table, problems, ref, families)
    q = problems.frame().sort_values(["row"], kind="stable").reset_index(drop=True)
    bad = np.zeros(len(out), bool)
    bad[q["row"].to_numpy()] = True
    dtypes = table_spec(table).dtypes
    valid = out[~bad].astype({c: dtypes[c] for c in out.columns if c in dtypes})
    return EvidenceResult(table, valid, q, len(out))


def _row_rules(df: pd.DataFrame, table: str, problems: Problems, ref: dt.date, families) -> None:
    spec = table_spec(table)
    key = [normalize_text(df[c].astype("string")) for c in spec.key]
    dup = pd.concat(key, axis=1).duplicated(keep="first").to_numpy() & np.all([k.notna() for k in key], axis=0)
    problems.add(dup, spec.key[-1], "duplicate_key", f"{'/'.join(spec.key)} appears more than once; the first is kept")
    limit = pd.Timestamp(ref)
    for name, col in spec.columns.items():
        if col.dtype == "date":
            problems.add((df[name] > limit).fillna(False), name, "future_date", f"{name} is after {ref.isoformat()}")
    if table == "registry_records":
        late = (df["birth_date"] > df["as_of"]).fillna(False)
        problems.add(late, "birth_date", "birth_after_record", "birth_date is after the record's as_of date")
    if table == "community_reports" and families is not None:
        ids = pd.Index(normalize_text(pd.Series(families["family_id"])).dropna())
        unknown = df["family_id"].notna() & ~isin(normalize_text(df["family_id"]), ids)
        problems.add(unknown, "family_id", "unknown_family", "the report is about a family that is not in the batch")
