"""Keys (family ids, region codes, NIKs): one normalisation, and lookups with Arrow's hash tables.

`pd.Index.get_indexer` and ``isin`` on Arrow-backed strings go through Python objects; Arrow's
``index_in`` and ``is_in`` are about five times faster on a chunk of 100,000 families.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def normalize_text(values) -> pd.Series:
    """Text as validation reads it: stripped, empty as missing. Every comparison of family ids and
    codes across tables and files goes through this (or `normalize_arrow`)."""
    out = pd.Series(values).astype("string").str.strip()
    return out.mask(out == "")


def normalize_arrow(values) -> pa.Array:
    """`normalize_text` for an Arrow column, as large strings (empty stays empty: it matches no key)."""
    return pc.utf8_trim_whitespace(values.cast(pa.large_string()))


def _arrow_text(x) -> pa.Array:
    if not (isinstance(x, (pd.Series, pd.Index)) and isinstance(x.dtype, pd.StringDtype)):
        x = pd.array(np.asarray(x, dtype=object), dtype="string")
    return pa.array(x, type=pa.large_string())


def positions(values, keys) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (its first occurrence), -1 where absent or missing.

    As ``pd.Index(keys).get_indexer(values)`` for unique text keys.
    """
    found = pc.index_in(_arrow_text(values), value_set=_arrow_text(keys), skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def lookup(values, series: pd.Series, fill=np.nan) -> np.ndarray:
    """``series`` (indexed by text keys) at each of ``values``; ``fill`` where absent.

    As ``series.reindex(values).to_numpy()`` for a numeric ``series`` with a unique index.
    """
    data = np.append(series.to_numpy(dtype="float64", na_value=np.nan), fill)
    return data[positions(values, series.index)]  # -1, absent, takes the appended fill


def isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for text keys, False where missing; by Arrow, because pandas' own isin on
    Arrow strings goes through a Python list of the values (slow for a million ids)."""
    arr = pa.array(s.astype("string"), type=pa.large_string())
    vals = pa.array(
        pd.Series(list(values) if isinstance(values, (set, frozenset)) else values, dtype="string"),
        type=pa.large_string(),
    )
    hit = pc.fill_null(pc.is_in(arr, value_set=vals), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index)


def is_nik(text) -> np.ndarray:
    """Whether each of ``text`` (Arrow strings) is a well-formed NIK: 16 ASCII digits."""
    ok = pc.and_(pc.equal(pc.binary_length(text), 16), pc.ascii_is_decimal(text))
    return pc.fill_null(ok, False).to_numpy(zero_copy_only=False)


def nik_birth_date(nik, age, ref) -> np.ndarray:
    """Birth dates (``datetime64[D]``, NaT where none) that NIKs state in digits 7-12 (DDMMYY, day + 40
    for women), the century chosen by ``age`` at the reference date ``ref``."""
    text = pd.Series(pd.array(np.asarray(nik, dtype=object), dtype="string"))
    ok = is_nik(pa.array(text.array))
    part = lambda i: text.where(ok, "0" * 16).str.slice(i, i + 2).astype("int64").to_numpy()  # noqa: E731
    dd, mm, yy = part(6), part(8), part(10)
    day = np.where(dd > 40, dd - 40, dd)
    expected = pd.Timestamp(ref).year - np.nan_to_num(np.asarray(age, dtype="float64"), nan=30)
    year = np.where(np.abs(2000 + yy - expected) < np.abs(1900 + yy - expected), 2000 + yy, 1900 + yy)
    parts = pd.DataFrame({"year": year, "month": mm, "day": day})
    dates = pd.to_datetime(parts.mask(~np.broadcast_to(ok[:, None], parts.shape)), errors="coerce")
    return dates.to_numpy(dtype="datetime64[D]")


def family_hash(values) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of family ids as validation reads them (`normalize_text`); and the missing ones."""
    text = normalize_text(values)
    missing = text.isna().to_numpy()
    return pd.util.hash_array(text.fillna("").to_numpy(dtype=object), categorize=False), missing


@dataclass(frozen=True)
class BatchDuplicates:
    """Keys that occur more than once in a whole batch validated in chunks (`pkh_targeting.scoring`),
    so that each chunk quarantines what the whole would.

    Attributes
    ----------
    family_ids : frozenset
        ``family_id`` values on more than one families row.
    nik_families : dict
        NIK -> number of distinct families holding it, for NIKs on more than one members row.
    """

    family_ids: frozenset = frozenset()
    nik_families: dict = field(default_factory=dict)
