"""The two sides of a linkage in one shape: normalised names, NIK, birth date, sex and regency."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.keys import nik_birth_date, normalize_text

# honorifics and degrees written before a name; degrees after it follow a comma and are cut there
_TITLES = r"^(?:(?:H|HJ|HAJI|HAJJAH|DR|DRS|DRA|IR|PROF|KH)\.?\s+)+"


def normalize_name(names) -> pd.Series:
    """Names as linkage compares them: upper case, degrees (after a comma) and titles removed,
    punctuation to spaces, spaces collapsed.

    >>> normalize_name(pd.Series(["Hj. Siti  Aminah, S.Pd", "siti aminah", None])).tolist()
    ['SITI AMINAH', 'SITI AMINAH', <NA>]
    """
    s = normalize_text(pd.Series(names, dtype="string")).str.upper()
    s = s.str.split(",", n=1).str[0]
    s = s.str.replace(r"[^\w\s]", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    s = s.str.replace(_TITLES, "", regex=True)  # "H. DRS. BUDI" -> "BUDI"
    return s.mask(s == "")


def name_key(norm: pd.Series) -> pd.Series:
    """Initials of every name but the last, then the last: ``M RIZKI`` for ``MUHAMMAD RIZKI`` and
    ``M RIZKI``, so that an abbreviated first name still agrees.

    >>> name_key(pd.Series(["MUHAMMAD RIZKI", "M RIZKI", "RIZKI"])).tolist()
    ['M RIZKI', 'M RIZKI', 'RIZKI']
    """
    parts = norm.str.split(" ")
    initials = parts.map(lambda p: " ".join(w[0] for w in p[:-1]) if isinstance(p, list) else None)
    last = parts.str[-1]
    return (initials.astype("string") + " " + last).str.strip().where(norm.notna())


def _dates(birth: pd.Series) -> dict:
    swapped = pd.to_datetime(
        pd.DataFrame({"year": birth.dt.year, "month": birth.dt.day, "day": birth.dt.month}), errors="coerce"
    )
    text = lambda d: pd.Series(d.dt.strftime("%Y-%m-%d"), dtype="string")  # noqa: E731
    return {"birth_date": text(birth), "birth_date_swapped": text(swapped)}


def nik_digits(nik) -> pd.Series:
    """NIKs as 16 digits, or missing (spaces, dots and dashes of a typed NIK dropped)."""
    s = normalize_text(pd.Series(nik, dtype="string")).str.replace(r"[\s.\-]", "", regex=True)
    return s.where(s.str.fullmatch(r"\d{16}").fillna(False))


def member_side(members: pd.DataFrame, families: pd.DataFrame, reference_date) -> pd.DataFrame:
    """Validated members as linkage's left side; the birth date is the one the NIK states."""
    regency = families.set_index("family_id")["regency_code"]
    nik = nik_digits(members["nik"])
    age = members["age"].to_numpy(dtype="float64", na_value=np.nan)
    birth = pd.Series(nik_birth_date(nik, age, reference_date), index=members.index)
    names = members["name"] if "name" in members else pd.Series(pd.NA, index=members.index, dtype="string")
    norm = normalize_name(names)
    year = pd.Series(birth.dt.year, dtype="Int64").fillna(
        pd.Series(pd.Timestamp(reference_date).year - age, index=members.index).round().astype("Int64")
    )
    out = pd.DataFrame(
        {
            "unique_id": members["family_id"].astype("string") + "#" + members["member_no"].astype("string"),
            "nik": nik,
            "name_norm": norm,
            "name_key": name_key(norm),
            **_dates(birth),
            "birth_year": year,
            "sex": pd.Series(members["sex"].to_numpy(), dtype="Int64", index=members.index),
            "regency_code": pd.Series(
                regency.reindex(members["family_id"]).to_numpy(), dtype="string", index=members.index
            ),
        }
    )
    return out.reset_index(drop=True)


def record_side(records: pd.DataFrame) -> pd.DataFrame:
    """Validated registry records as linkage's right side."""
    birth = pd.to_datetime(records["birth_date"])
    norm = normalize_name(records["full_name"])
    out = pd.DataFrame(
        {
            "unique_id": records["source"].astype("string") + "#" + records["record_id"].astype("string"),
            "nik": nik_digits(records["nik"]),
            "name_norm": norm,
            "name_key": name_key(norm),
            **_dates(birth),
            "birth_year": pd.Series(birth.dt.year, dtype="Int64"),
            "sex": pd.Series(records["sex"].to_numpy(), dtype="Int64", index=records.index),
            "regency_code": records["regency_code"].astype("string"),
        }
    )
    return out.reset_index(drop=True)
