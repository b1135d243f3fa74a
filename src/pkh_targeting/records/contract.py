"""The data contracts: the one reader of ``contract/*.yaml``.

The contracts are the one place where column names, dtypes, code lists, ranges, patterns,
optional columns and questionnaire items live; schemas, coercion, validation, the scored-batch
dtypes and documentation are built from them.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

with warnings.catch_warnings():  # with the [spark] extra, pandera imports pyspark.pandas, which warns about pandas 3
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    import pandera.pandas as pa

TABLES = ("families", "members")
EVIDENCE_TABLES = ("registry_records", "community_reports")
# pandas dtype of each contract dtype, by nullability
_PANDAS_DTYPES = {
    ("int", False): "int64",
    ("int", True): "Int64",
    ("bool", False): "bool",
    ("bool", True): "boolean",
    ("float", False): "float64",
    ("float", True): "float64",
    ("string", False): "string",
    ("string", True): "string",
    ("date", False): "datetime64[s]",
    ("date", True): "datetime64[s]",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract."""

    name: str
    dtype: str
    nullable: bool = False
    required: bool = True
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

    @property
    def pandas_dtype(self) -> str:
        """The pandas dtype of the column's valid values."""
        return _PANDAS_DTYPES[self.dtype, self.nullable]


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnSpec]

    @property
    def required(self) -> list[str]:
        """Columns a file must have; the others (``required: false``) may be absent."""
        return [c for c, s in self.columns.items() if s.required]

    @property
    def optional(self) -> list[str]:
        """Columns a file may lack (read as all null)."""
        return [c for c, s in self.columns.items() if not s.required]

    @property
    def dtypes(self) -> dict[str, str]:
        """Column -> pandas dtype."""
        return {c: s.pandas_dtype for c, s in self.columns.items()}

    @property
    def pii_columns(self) -> list[str]:
        return [c for c, s in self.columns.items() if s.pii]


def _read_yaml(name: str) -> dict:
    return yaml.safe_load(resources.files("pkh_targeting.contract").joinpath(name).read_text("utf-8"))


def _table(name: str, raw: dict) -> TableSpec:
    key = raw.get("key", [])
    key = key if isinstance(key, list) else [key]
    cols = {c: ColumnSpec(name=c, **spec) for c, spec in raw["columns"].items()}
    return TableSpec(name, tuple(key), cols)


@cache
def load_contract() -> dict[str, TableSpec]:
    """The household-record contract as ``{"families": TableSpec, "members": TableSpec}``."""
    return {name: _table(name, t) for name, t in _read_yaml("household_records.yaml")["tables"].items()}


@cache
def contract_version() -> int:
    """Version of the household-record contract this package reads."""
    return int(_read_yaml("household_records.yaml")["version"])


def readable_contract(version) -> bool:
    """Whether records of household contract ``version`` are read by this package: every version
    since 1 only added optional columns, so any version up to this one."""
    return isinstance(version, int) and 1 <= version <= contract_version()


@cache
def evidence_contract() -> dict[str, TableSpec]:
    """The evidence contract (``contract/evidence.yaml``): ``registry_records`` and ``community_reports``."""
    return {name: _table(name, t) for name, t in _read_yaml("evidence.yaml")["tables"].items()}


def table_spec(table: str) -> TableSpec:
    """The contract of any input table: households (`load_contract`) or evidence (`evidence_contract`)."""
    if table in TABLES:
        return load_contract()[table]
    if table in EVIDENCE_TABLES:
        return evidence_contract()[table]
    raise ValueError(f"unknown table {table!r}; the contracts define {TABLES + EVIDENCE_TABLES}.")


@cache
def scores_contract() -> TableSpec:
    """The scored-batch contract (``contract/scores.yaml``): what `score` returns and writes."""
    return _table("scores", _read_yaml("scores.yaml"))


@cache
def column_aliases(table: str) -> dict[str, str]:
    """Map of accepted alternative header -> contract column for ``table``."""
    raw = _read_yaml("aliases.yaml").get(table, {})
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
    spec = table_spec(table)
    return pa.DataFrameSchema(
        {
            name: pa.Column(
                nullable=col.nullable,
                checks=[c for _, c in column_checks(col)],
                required=col.required,
            )
            for name, col in spec.columns.items()
        },
        name=table,
    )
