"""Coercion of exported values to the contract's dtypes: what is unambiguous is cast, the rest is a problem."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._problems import Problems, describe
from .contract import ColumnSpec, table_spec
from .keys import normalize_text

_TRUE = ["1", "1.0", "true", "ya", "y", "yes", "benar"]
_FALSE = ["0", "0.0", "false", "tidak", "tdk", "no", "n", "bukan", "salah"]
_EXPECTED = {
    "bool": "true/false (1/0, Ya/Tidak)",
    "int": "a whole number",
    "float": "a number",
    "date": "a date (YYYY-MM-DD or DD/MM/YYYY)",
}


def coerce(s: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Cast ``s`` to the contract dtype; return it and the mask of values that could not be cast."""
    if spec.dtype == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), pd.Series(False, index=s.index)
        txt = normalize_text(s).str.lower() if not pd.api.types.is_numeric_dtype(s) else normalize_text(s)
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[txt.isin(_TRUE).fillna(False)] = True
        out[txt.isin(_FALSE).fillna(False)] = False
        return out, out.isna() & txt.notna()
    if spec.dtype in ("int", "float"):
        if spec.dtype == "int" and pd.api.types.is_integer_dtype(s):
            return s.astype("Int64"), pd.Series(False, index=s.index)
        raw = s if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else normalize_text(s)
        num = pd.to_numeric(raw, errors="coerce").astype("Float64")
        bad = num.isna() & raw.notna() & ~_is_nan_text(raw)
        if spec.dtype == "float":
            return num.astype("float64"), bad
        frac = num.notna() & np.isfinite(num.fillna(0)) & (num.fillna(0) % 1 != 0)
        inf = num.notna() & ~np.isfinite(num.fillna(0))
        bad = bad | frac | inf
        num = num.mask(frac | inf)
        return num.astype("Int64"), bad
    if spec.dtype == "date":
        return _coerce_date(s)
    if spec.dtype == "string":
        if pd.api.types.is_float_dtype(s):
            out = s.astype("Int64").astype("string") if (s.dropna() % 1 == 0).all() else s.astype("string")
        else:
            out = normalize_text(s)
        if spec.fixed_digits and not spec.pii:
            # Excel turns codes into numbers: "3273010001.0", or "1101" for "01101" (leading zero lost)
            out = out.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
            short = out.str.fullmatch(r"\d+").fillna(False) & (out.str.len() < spec.fixed_digits)
            if short.any():
                out = out.where(~short, out.str.zfill(spec.fixed_digits))
        return out, pd.Series(False, index=s.index)
    raise ValueError(f"unknown contract dtype {spec.dtype!r} for {spec.name}")  # pragma: no cover


def _coerce_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates as Excel gives them, or as text: ISO first, then day-first (DD/MM/YYYY, DD-MM-YYYY)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None).dt.normalize().astype("datetime64[s]"), pd.Series(False, index=s.index)
    txt = normalize_text(s.map(lambda v: v.date().isoformat() if hasattr(v, "date") else v, na_action="ignore"))
    out = pd.to_datetime(txt, format="ISO8601", errors="coerce")
    for fmt in ("%d/%m/%Y", "%d-%m-%Y"):
        todo = out.isna() & txt.notna()
        if todo.any():
            out = out.where(~todo, pd.to_datetime(txt.where(todo), format=fmt, errors="coerce"))
    bad = out.isna() & txt.notna() & ~_is_nan_text(txt)
    return out.dt.normalize().astype("datetime64[s]"), bad


def _is_nan_text(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw):
        return pd.Series(False, index=raw.index)
    return raw.str.lower().isin(["nan", "na", "n/a", "null", "none", "-"]).fillna(False)


def coerce_table(raw: pd.DataFrame, table: str, problems: Problems) -> tuple[pd.DataFrame, set]:
    """``raw`` in the contract's dtypes, optional columns it lacks added as all null; and the
    (column, row) pairs that could not be cast."""
    specs = table_spec(table).columns
    out = raw.copy()
    cast_failed = set()
    for name, spec in specs.items():
        if name not in raw.columns:
            if not spec.required:
                out[name] = pd.Series(
                    pd.NA if spec.dtype != "float" else np.nan, index=raw.index, dtype=spec.pandas_dtype
                )
            continue
        out[name], bad = coerce(raw[name], spec)
        if bad.any():
            problems.add(bad, name, "dtype", f"{describe(spec)} must be {_EXPECTED.get(spec.dtype, spec.dtype)}")
            cast_failed.update((name, r) for r in np.flatnonzero(bad.to_numpy()))
        if spec.dtype == "float":
            inf = np.isinf(out[name].to_numpy(dtype="float64", na_value=np.nan))
            problems.add(inf, name, "range", f"{describe(spec)} must be finite")
            out[name] = out[name].mask(inf)
            cast_failed.update((name, r) for r in np.flatnonzero(inf))
    return out, cast_failed
