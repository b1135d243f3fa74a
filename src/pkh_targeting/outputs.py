"""Writing outputs safely: atomic replacement, and CSV that spreadsheets cannot run as formulas."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
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


def print_to_pdf(documents, out_dir=None) -> list[Path]:
    """Print office documents (DOCX, XLSX) to PDF with LibreOffice, as a person printing them would get
    them; the PDFs go next to each document (or to ``out_dir``). One LibreOffice run for all of them,
    with a profile of its own, so that runs side by side do not share one."""
    documents = [Path(d) for d in documents]
    if not documents:
        return []
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RuntimeError(
            "printing to PDF needs LibreOffice (soffice): apt-get install libreoffice-writer-nogui "
            "libreoffice-calc-nogui, or open the DOCX in a word processor and print it to PDF."
        )
    targets = {}
    for d in documents:
        targets.setdefault(Path(out_dir) if out_dir else d.parent, []).append(d)
    pdfs = []
    with tempfile.TemporaryDirectory(prefix="pkh-soffice-") as profile:
        for target, docs in targets.items():
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                 "--convert-to", "pdf", "--outdir", str(target), *map(str, docs)],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            pdfs += [target / f"{d.stem}.pdf" for d in docs]
    missing = [str(p) for p in pdfs if not p.is_file()]
    if missing:
        raise RuntimeError(f"LibreOffice did not print {', '.join(missing)}.")
    return pdfs
