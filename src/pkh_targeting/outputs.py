"""Writing outputs safely: atomic replacement, and CSV that spreadsheets cannot run as formulas."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``, tab, CR) with ``'``."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_string_dtype(s) or s.dtype == object:
            txt = s.astype("string")
            risky = txt.str.startswith(_FORMULA_START).fillna(False)
            if risky.any():
                out[col] = txt.where(~risky, "'" + txt)
    return out


def write_csv(df: pd.DataFrame, path, *, bom: bool = True) -> Path:
    """Write ``df`` as UTF-8 CSV, with BOM by default (Excel shows it right), formula cells
    neutralised, atomically."""
    with atomic_path(path) as tmp:
        neutralize_formulas(df).to_csv(tmp, index=False, encoding="utf-8-sig" if bom else "utf-8")
    return Path(path)


def write_parquet(df: pd.DataFrame, path, **kwargs) -> Path:
    """Write ``df`` to Parquet atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, **kwargs)
    return Path(path)
