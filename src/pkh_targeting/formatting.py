"""Numbers, dates and rupiah as people read them, in Indonesian or English: formatted here, by Babel,
for every document and page alike."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from babel.dates import format_date as _format_date
from babel.numbers import format_currency, format_decimal

LOCALES = {"id": "id_ID", "en": "en_GB"}


def locale(language: str) -> str:
    if language not in LOCALES:
        raise ValueError(f"language must be one of {sorted(LOCALES)}, got {language!r}.")
    return LOCALES[language]


def long_date(value, language: str = "id") -> str:
    """``4 Desember 2026`` / ``4 December 2026``; empty for a missing date."""
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return ""
    return _format_date(pd.Timestamp(value).date(), "d MMMM y", locale=locale(language))


def weekday(value, language: str = "id") -> str:
    """``Jumat`` / ``Friday``."""
    return _format_date(pd.Timestamp(value).date(), "EEEE", locale=locale(language))


def number(value, language: str = "id", digits: int = 0) -> str:
    """``1.300`` / ``1,300``; ``0,94`` / ``0.94`` with ``digits``; empty for a missing value."""
    if value is None or pd.isna(value):
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale(language))


def rupiah(value, language: str = "id") -> str:
    """``Rp 3.000.000`` / ``IDR 3,000,000``: whole rupiah."""
    if value is None or pd.isna(value):
        return ""
    return format_currency(value, "IDR", format="¤ #,##0", currency_digits=False, locale=locale(language))
