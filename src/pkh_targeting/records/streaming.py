"""Reading a table of a batch in batches of rows, and only the rows of some families."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .keys import isin, normalize_arrow, normalize_text
from .reading import conform, detect_csv_encoding, parquet_files, parquet_schema, read_table, standardize_columns

READ_ROWS = 500_000


class TableSource:
    """One table of a batch read in batches of rows, with the contract's column names."""

    def __init__(self, path, table: str):
        self.path, self.table = Path(path), table
        suffix = self.path.suffix.lower()
        if self.path.is_dir() or suffix in (".parquet", ".pq"):
            self.kind = "parquet"
            self.files = parquet_files(self.path)
            self.schema = parquet_schema(self.files)
            raw = self.schema.names
        elif suffix in (".csv", ".txt"):
            self.kind = "csv"
            if not self.path.is_file() or self.path.stat().st_size == 0:
                read_table(self.path, table)  # names the problem
            self.encoding = detect_csv_encoding(self.path)
            raw = list(pd.read_csv(self.path, nrows=0, encoding=self.encoding).columns)
        else:
            self.kind = "other"
            return
        self.names = list(standardize_columns(pd.DataFrame(columns=raw), table, source=str(self.path)).columns)
        self.raw_names = dict(zip(self.names, raw))

    def n_rows(self) -> int | None:
        if self.kind == "parquet":
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        if self.kind == "csv":
            with open(self.path, "rb") as f:
                lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
            return max(lines - 1, 0)
        return None

    def batches(self, columns: list[str] | None = None):
        """Yield pyarrow Tables of up to `READ_ROWS` rows, in file order (only ``columns`` if given)."""
        names = columns or self.names
        raw = [self.raw_names[c] for c in names]
        if self.kind == "parquet":
            schema = pa.schema([self.schema.field(c) for c in raw])
            for f in self.files:
                present = [c for c in raw if c in pq.read_schema(f).names]
                for b in pq.ParquetFile(f).iter_batches(batch_size=READ_ROWS, columns=present):
                    yield conform(pa.Table.from_batches([b]), schema).rename_columns(names)
        else:
            schema = pa.schema([(c, pa.string()) for c in names])
            for df in pd.read_csv(
                self.path, dtype=str, encoding=self.encoding, skipinitialspace=True, usecols=raw, chunksize=READ_ROWS
            ):
                df = df[raw]
                df.columns = names
                yield pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def read_records_of(path, table: str, family_ids, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of ``table`` ("families" or "members") that belong to the families in ``family_ids``
    (compared stripped), raw as `score_files` reads its chunks (only ``columns`` if given), read in
    batches: memory grows with the rows kept, not with the file."""
    source = TableSource(path, table)
    if source.kind == "other":
        whole = read_table(path, table)
        batches = [pa.Table.from_pandas(whole[columns or list(whole.columns)].astype("string"), preserve_index=False)]
    else:
        batches = source.batches(columns)
    wanted = pa.array(pd.array(family_ids, dtype="string").unique(), type=pa.large_string())
    parts = []
    for t in batches:
        ids = normalize_arrow(t.column("family_id"))
        t = t.set_column(t.schema.get_field_index("family_id"), "family_id", ids)
        parts.append(t.filter(pc.is_in(ids, value_set=wanted)))
    return pa.concat_tables(parts).to_pandas() if parts else pd.DataFrame(columns=columns or source.names)


def records_of(records, table: str, family_ids) -> pd.DataFrame:
    """The rows of a table, given as a DataFrame or a file, that belong to the families in ``family_ids``."""
    if not isinstance(records, pd.DataFrame):
        return read_records_of(records, table, family_ids)
    records = standardize_columns(records, table)
    return records[isin(normalize_text(records["family_id"]), pd.Series(family_ids, dtype="string")).to_numpy()]
