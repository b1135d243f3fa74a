"""The quarantine table: problems collected per table as (rows, column, rule, message) blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.errors

from ..privacy import mask_nik
from .contract import ColumnSpec, column_checks, table_schema, table_spec

QUARANTINE_COLUMNS = ["table", "row", "family_id", "member_no", "column", "value", "rule", "message"]
# the evidence tables' quarantine names each row by its contract key ("civil_servant/R12", "U-7")
EVIDENCE_QUARANTINE_COLUMNS = ["table", "row", "key", "column", "value", "rule", "message"]
_MAX_VALUE_CHARS = 80


def _value_text(raw: pd.Series, spec: ColumnSpec | None) -> pd.Series:
    """Offending values as short text; personal data masked (NIK keeps its first 6 and last 4)."""
    txt = raw.astype("string").str.slice(0, _MAX_VALUE_CHARS)
    if spec is not None and spec.pii:
        txt = mask_nik(txt) if spec.name == "nik" else txt.where(txt.isna(), "<masked>")
    return txt.fillna("<missing>")


class Problems:
    """Collects problems of one table as (row positions, column, rule, message) blocks."""

    def __init__(self, table: str, raw: pd.DataFrame):
        self.table, self.raw, self.blocks = table, raw, []
        spec = table_spec(table)
        self.specs, self.key = spec.columns, spec.key
        self.columns = QUARANTINE_COLUMNS if table in ("families", "members") else EVIDENCE_QUARANTINE_COLUMNS

    def add(self, mask, column: str, rule: str, message) -> None:
        """Record ``rule`` failing on the rows in ``mask``; ``message`` is text, or a function of the
        failing row positions returning their messages."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        msg = message if isinstance(message, str) else np.asarray(message(rows), dtype=object)
        self.blocks.append((rows, column, rule, msg))

    def frame(self) -> pd.DataFrame:
        if not self.blocks:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in self.columns}).astype({"row": "int64"})
        parts = []
        for rows, column, rule, msg in self.blocks:
            col = self.raw[column].iloc[rows] if column in self.raw.columns else None
            value = _value_text(col, self.specs.get(column)) if col is not None else pd.Series("", index=rows)
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "column": column,
                        "value": np.asarray(value, dtype=object),
                        "rule": rule,
                        "message": msg,
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "table", self.table)
        if self.columns is EVIDENCE_QUARANTINE_COLUMNS:
            key = self.raw[list(self.key)].astype("string").fillna("<missing>").iloc[out["row"]]
            out.insert(2, "key", key.agg("/".join, axis=1).to_numpy() if len(key) else [])
            return out[self.columns]
        keys = self.raw["family_id"].astype("string").iloc[out["row"]].to_numpy()
        out.insert(2, "family_id", keys)
        mno = self.raw["member_no"].astype("string").iloc[out["row"]].to_numpy() if self.table == "members" else None
        out.insert(3, "member_no", mno)
        return out[QUARANTINE_COLUMNS]


def describe(spec: ColumnSpec) -> str:
    return f"{spec.name} (item {spec.item})" if spec.item else spec.name


def column_rules(df: pd.DataFrame, table: str, problems: Problems, cast_failed: set) -> None:
    """Per-column rules from the contract, checked by pandera."""
    try:
        table_schema(table).validate(df, lazy=True)
        return
    except pandera.errors.SchemaErrors as err:
        fc = err.failure_cases
    fc = fc[fc["index"].notna()]
    specs = table_spec(table).columns
    fc = fc.assign(check_number=fc["check_number"].fillna(-1).astype("int64"))
    for (column, number), grp in fc.groupby(["column", "check_number"], sort=False):
        spec = specs[column]
        check = "not_nullable" if number < 0 else column_checks(spec)[number][0]
        rows = grp["index"].astype("int64").to_numpy()
        rows = np.array([r for r in rows if (column, r) not in cast_failed], dtype="int64")
        if not len(rows):
            continue
        mask = np.zeros(len(df), dtype=bool)
        mask[rows] = True
        name = describe(spec)
        if check == "not_nullable":
            problems.add(mask, column, "not_null", f"{name} is required but missing")
        elif check == "codes":
            allowed = ", ".join(f"{k} {v}" for k, v in spec.codes.items())
            problems.add(mask, column, "codes", f"{name} has a code outside the contract's list ({allowed})")
        elif check == "min":
            problems.add(mask, column, "range", f"{name} is below the minimum {spec.min:g}")
        elif check == "max":
            problems.add(mask, column, "range", f"{name} is above the maximum {spec.max:g}")
        elif check == "pattern":
            problems.add(mask, column, "pattern", f"{name} does not match the pattern {spec.pattern}")
        else:  # pragma: no cover - every contract check is named above
            problems.add(mask, column, str(check), f"{name} fails {check}")
