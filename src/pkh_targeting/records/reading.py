"""Reading registry exports (CSV, Parquet, Excel) into tables with the contract's column names."""

from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..exceptions import DataQualityWarning, SchemaError
from .contract import column_aliases, load_contract, table_spec

_SHEET_NAMES = {
    "families": ("families", "keluarga", "family"),
    "members": ("members", "anggota", "art", "anggota_keluarga"),
    "registry_records": ("registry_records", "records", "data_registri", "data_lain"),
    "community_reports": ("community_reports", "reports", "laporan", "laporan_masyarakat", "usul_sanggah"),
}


_CONTRACT_FILE = {"families": "household_records.yaml", "members": "household_records.yaml"}


def _normalize_header(name) -> str:
    return re.sub(r"[\s\-\.]+", "_", str(name).strip().lower())


def standardize_columns(df: pd.DataFrame, table: str, source: str = "input") -> pd.DataFrame:
    """Rename ``df``'s columns to the contract's names and check that none is missing.

    Headers are matched case-insensitively, with Indonesian aliases (``contract/aliases.yaml``).
    Extra columns are kept. Raises `SchemaError` on duplicated or missing columns.
    """
    spec = table_spec(table)
    aliases = column_aliases(table)
    renamed = []
    for col in df.columns:
        norm = _normalize_header(col)
        renamed.append(norm if norm in spec.columns else aliases.get(norm, str(col)))
    dup = sorted({c for c in renamed if renamed.count(c) > 1})
    if dup:
        raise SchemaError(
            f"{source}: duplicated column(s) {dup} in the {table} table (after matching Indonesian "
            "names). Keep one column per field and remove the other."
        )
    missing = [c for c in spec.required if c not in renamed]
    if missing:
        raise SchemaError(_missing_message(source, table, missing, renamed))
    out = df.copy(deep=False)
    out.columns = renamed
    return out


def _missing_message(source: str, table: str, missing: list, received: list) -> str:
    contract = load_contract()
    spec = table_spec(table)
    extra = [c for c in received if c not in spec.columns]
    other = "members" if table == "families" else "families"
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    lines = [f"{source}: the {table} table misses {len(missing)} required column(s): {shown}."]
    if (
        table in contract
        and len(missing) > len(spec.required) / 2
        and sum(c in contract[other].columns for c in received) > len(received) / 2
    ):
        lines.append(f"This file looks like the {other} table: check the order of the files.")
    elif len(missing) + len(extra) <= 20:
        lines.append("Expected (-) vs received (+):")
        lines += [f"- {c}" for c in missing] + [f"+ {c}" for c in extra]
    lines.append(
        f"Rename columns to the contract's names (contract/{_CONTRACT_FILE.get(table, 'evidence.yaml')}) or to a "
        "documented alias (contract/aliases.yaml)."
    )
    return "\n".join(lines)


def _check_csv_header(path: Path, encoding: str) -> None:
    # pandas renames duplicated headers ("a", "a.1"); read the raw first row instead.
    first = pd.read_csv(path, nrows=1, header=None, encoding=encoding, dtype=str)
    names = [str(v) for v in first.iloc[0].tolist()]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SchemaError(f"{path}: duplicated header(s) {dup}. Keep one column per field.")


def detect_csv_encoding(path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as such, else Windows-1252 or Latin-1,
    with a `DataQualityWarning`; checks the header row too."""
    path = Path(path)
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 24), b""):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        break
    else:
        encoding = "latin-1"  # decodes any byte
    if encoding != "utf-8-sig":
        warnings.warn(f"{path} is not UTF-8; read it as {encoding}.", DataQualityWarning, stacklevel=3)
    _check_csv_header(path, encoding)
    return encoding


def parquet_files(path) -> list[Path]:
    """The Parquet file, or the Parquet files of a folder (a partitioned dataset) in path order."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such file.")
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise SchemaError(f"{path}: no Parquet files in the folder.")
    return files


def parquet_schema(files) -> pa.Schema:
    """One schema for all parts of a dataset (a column missing from a part is read as empty)."""
    try:
        return pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    except (pa.ArrowException, OSError) as exc:
        raise SchemaError(f"{files[0].parent}: cannot read the Parquet files ({exc}).") from exc


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, in its order and types."""
    cols = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def _read_parquet(path: Path) -> pd.DataFrame:
    files = parquet_files(path)
    schema = parquet_schema(files)
    return pa.concat_tables([conform(pq.read_table(f), schema) for f in files]).to_pandas()


def _read_csv(path: Path) -> pd.DataFrame:
    encoding = detect_csv_encoding(path)
    return pd.read_csv(path, dtype=str, encoding=encoding, skipinitialspace=True)


def _read_excel(path: Path, table: str, sheet: str | int | None) -> pd.DataFrame:
    with pd.ExcelFile(path, engine="openpyxl") as book:  # closed on return: no file left open
        sheets = book.sheet_names
        if sheet is None:
            wanted = [s for s in sheets if _normalize_header(s) in _SHEET_NAMES[table]]
            if wanted:
                sheet = wanted[0]
            elif len(sheets) == 1:
                sheet = sheets[0]
            else:
                raise SchemaError(
                    f"{path}: several sheets {sheets} and none is named for the {table} table "
                    f"({', '.join(_SHEET_NAMES[table])}). Rename the sheet or pass sheet=."
                )
        elif sheet not in sheets and not isinstance(sheet, int):
            raise SchemaError(f"{path}: no sheet {sheet!r}; the workbook has {sheets}.")
        # openpyxl returns cached formula results: nothing in the workbook is evaluated.
        df = pd.read_excel(book, sheet_name=sheet, dtype=object)
    return df.dropna(how="all")


def read_table(path, table: str, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read one table of a registry export, with the contract's column names.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.xlsx`` file (CSV may be UTF-8, with or without BOM, or
        Windows-1252), or a folder of Parquet files.
    table : {"families", "members", "registry_records", "community_reports"}
    sheet : str or int, optional
        Excel sheet; by default the one named for the table, or the only one.

    Returns
    -------
    DataFrame with the raw values: coercion and row checks happen in `validate_records`.

    Raises
    ------
    SchemaError
        Unreadable or empty file, unknown format, duplicated or missing columns.
    """
    path = Path(path)
    if table not in _SHEET_NAMES:
        raise ValueError(f"table must be one of {list(_SHEET_NAMES)}, got {table!r}.")
    if path.is_dir():
        return standardize_columns(_read_parquet(path), table, source=str(path))
    if not path.is_file():
        raise SchemaError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise SchemaError(f"{path}: the file is empty (not even a header row).")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            df = _read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = _read_parquet(path)
        elif suffix in (".xlsx", ".xlsm"):
            df = _read_excel(path, table, sheet)
        else:
            raise SchemaError(f"{path}: unknown format {suffix!r}; use .csv, .parquet or .xlsx.")
    except SchemaError:
        raise
    except Exception as exc:  # any reader failure is an unusable file, named as such
        raise SchemaError(f"{path}: cannot read the file as {suffix.lstrip('.')} ({exc}).") from exc
    return standardize_columns(df, table, source=str(path))


def read_records(families_path, members_path, *, sheets: tuple | None = None):
    """Read the families and members tables of an export (see `read_table`).

    Returns
    -------
    (families, members) : tuple of DataFrame
    """
    fs, ms = sheets or (None, None)
    return read_table(families_path, "families", sheet=fs), read_table(members_path, "members", sheet=ms)
