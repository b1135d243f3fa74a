"""The data contract: column specifications read from ``contract/household_records.yaml``.

The contract is the one place where column names, dtypes, code lists, ranges, patterns and
questionnaire items live; schemas, coercion, validation and documentation are built from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandera.pandas as pa
import yaml

TABLES = ("families", "members")
OUTCOME_COLUMNS = ("verified_eligible", "consumption_per_capita")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract."""

    name: str
    dtype: str
    nullable: bool = False
    codes: dict | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    pii: bool = False
    doc: str = ""

    @property
    def item(self) -> str | None:
        """DTSEN questionnaire item (e.g. ``"303"``) quoted in the column's doc, if any."""
        m = re.search(r"\b(\d{3}[a-z]?)\b", self.doc)
        return m.group(1) if m else None

    @property
    def fixed_digits(self) -> int | None:
        """Width of an all-digit code (``^[0-9]{N}$``), used to restore lost leading zeros."""
        m = re.fullmatch(r"\^\[0-9\]\{(\d+)\}\$", self.pattern or "")
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnSpec]

    @property
    def required(self) -> list[str]:
        """Columns a file must have (outcome columns may be absent)."""
        return [c for c in self.columns if c not in OUTCOME_COLUMNS]

    @property
    def pii_columns(self) -> list[str]:
        return [c for c, s in self.columns.items() if s.pii]


def _read_yaml(name: str) -> dict:
    return yaml.safe_load(resources.files("pkh_targeting.contract").joinpath(name).read_text("utf-8"))


@cache
def load_contract() -> dict[str, TableSpec]:
    """The household-record contract as ``{"families": TableSpec, "members": TableSpec}``."""
    raw = _read_yaml("household_records.yaml")
    tables = {}
    for tname, t in raw["tables"].items():
        key = t["key"] if isinstance(t["key"], list) else [t["key"]]
        cols = {name: ColumnSpec(name=name, **spec) for name, spec in t["columns"].items()}
        tables[tname] = TableSpec(tname, tuple(key), cols)
    return tables


@cache
def contract_version() -> int:
    return int(_read_yaml("household_records.yaml")["version"])


@cache
def column_aliases(table: str) -> dict[str, str]:
    """Map of accepted alternative header -> contract column for ``table``."""
    raw = _read_yaml("aliases.yaml")[table]
    return {alias: col for col, aliases in raw.items() for alias in aliases}


def column_checks(spec: ColumnSpec) -> list[tuple[str, pa.Check]]:
    """The contract's rules for one column as ``(kind, pandera Check)``, kind in codes/min/max/pattern."""
    checks = []
    if spec.codes is not None:
        checks.append(("codes", pa.Check.isin(list(spec.codes))))
    if spec.min is not None:
        checks.append(("min", pa.Check.ge(spec.min)))
    if spec.max is not None:
        checks.append(("max", pa.Check.le(spec.max)))
    if spec.pattern is not None:
        checks.append(("pattern", pa.Check.str_matches(spec.pattern)))
    return checks


@cache
def table_schema(table: str) -> pa.DataFrameSchema:
    """pandera schema of ``table``'s per-column rules (nullability, codes, ranges, patterns).

    Dtypes are not checked here: `read_records` coerces them first and reports what it cannot.
    """
    spec = load_contract()[table]
    return pa.DataFrameSchema(
        {
            name: pa.Column(
                nullable=col.nullable,
                checks=[c for _, c in column_checks(col)],
                required=name not in OUTCOME_COLUMNS,
            )
            for name, col in spec.columns.items()
        },
        name=table,
    )
