"""Synthetic names, addresses and NIKs (never real people), and injected data-quality defects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

_MALE = np.array(
    [
        "Agus",
        "Budi",
        "Dedi",
        "Eko",
        "Fajar",
        "Hendra",
        "Iwan",
        "Joko",
        "Made",
        "Nyoman",
        "Rudi",
        "Slamet",
        "Teguh",
        "Wahyu",
        "Yusuf",
        "Ahmad",
        "Bambang",
        "Dodi",
        "Heri",
        "Sutrisno",
    ]
)
_FEMALE = np.array(
    [
        "Ani",
        "Dewi",
        "Endang",
        "Fitri",
        "Indah",
        "Kartini",
        "Lestari",
        "Nur",
        "Ratna",
        "Siti",
        "Sri",
        "Tuti",
        "Wati",
        "Yanti",
        "Ayu",
        "Rina",
        "Sumiati",
        "Ketut",
        "Nining",
        "Rahayu",
    ]
)
_SECOND = np.array(
    [
        "Saputra",
        "Wijaya",
        "Hidayat",
        "Santoso",
        "Siregar",
        "Nasution",
        "Kurniawan",
        "Susanti",
        "Pratama",
        "Rahman",
        "Setiawan",
        "Lubis",
        "Harahap",
        "Simanjuntak",
        "Gunawan",
        "Sari",
        "Purnomo",
        "Utami",
        "Hasibuan",
        "Wulandari",
    ]
)
_STREETS = np.array(
    [
        "Merdeka",
        "Sudirman",
        "Diponegoro",
        "Kartini",
        "Pahlawan",
        "Melati",
        "Mawar",
        "Kenanga",
        "Flamboyan",
        "Cempaka",
        "Anggrek",
        "Veteran",
        "Gajah Mada",
        "Pemuda",
        "Raya Desa",
    ]
)


def make_names(sex: np.ndarray, rng) -> np.ndarray:
    n = len(sex)
    first = np.where(sex == 2, _FEMALE[rng.integers(0, len(_FEMALE), n)], _MALE[rng.integers(0, len(_MALE), n)])
    return pd.Series(first).str.cat(pd.Series(_SECOND[rng.integers(0, len(_SECOND), n)]), sep=" ").to_numpy()


def make_addresses(n: int, rng) -> np.ndarray:
    street = pd.Series(_STREETS[rng.integers(0, len(_STREETS), n)])
    no = pd.Series(rng.integers(1, 200, n)).astype(str)
    rt = pd.Series(rng.integers(1, 20, n)).map("{:03d}".format)
    rw = pd.Series(rng.integers(1, 12, n)).map("{:03d}".format)
    return ("Jl. " + street + " No. " + no + " RT " + rt + "/RW " + rw).to_numpy()


def make_niks(district_code: np.ndarray, age: np.ndarray, sex: np.ndarray, ref: dt.date, rng) -> np.ndarray:
    """NIKs: region (6 digits), birth date DDMMYY (day + 40 for women) consistent with age, serial."""
    n = len(age)
    doy = rng.integers(0, 365, n)
    birthday = pd.Timestamp("2001-01-01") + pd.to_timedelta(doy, unit="D")  # a non-leap calendar year
    month, day = birthday.month.to_numpy(), birthday.day.to_numpy()
    passed = (month < ref.month) | ((month == ref.month) & (day <= ref.day))
    year = ref.year - age - np.where(passed, 0, 1)
    dd = day + np.where(sex == 2, 40, 0)
    region = pd.Series(district_code).str.slice(0, 4) + pd.Series(district_code).str.slice(4, 6)
    stem = region + pd.Series(dd * 10000 + month * 100 + year % 100).map("{:06d}".format)
    serial = stem.groupby(stem).cumcount() + 1
    return (stem + serial.map("{:04d}".format)).to_numpy()


DEFECTS = {
    # defect: the quarantine rule that must catch it (None: validation coerces it back)
    "invalid_nik": "pattern",
    "nik_birth_date": "nik_birth_date",
    "duplicate_nik": "nik_duplicate",
    "n_members_mismatch": "n_members_mismatch",
    "unknown_code": "codes",
    "region_code_as_number": None,
}


def inject_defects(families: pd.DataFrame, members: pd.DataFrame, rate: float, rng) -> pd.Series:
    """Corrupt a share ``rate`` of families in place; return the defect of each family (or None)."""
    n = len(families)
    defect = np.full(n, None, dtype=object)
    hit = np.flatnonzero(rng.random(n) < rate)
    if not len(hit):
        return pd.Series(defect, index=families.index)
    kinds = np.array(list(DEFECTS))[rng.integers(0, len(DEFECTS), len(hit))]
    multi = families["n_members"].to_numpy()[hit] >= 2
    kinds = np.where((kinds == "duplicate_nik") & ~multi, "invalid_nik", kinds)
    defect[hit] = kinds
    head_row = pd.Series(
        members.index[members["member_no"] == 1], index=members["family_id"][members["member_no"] == 1]
    )
    fid = families["family_id"].to_numpy()
    for kind in DEFECTS:
        ids = fid[hit[kinds == kind]]
        if not len(ids):
            continue
        heads = head_row.reindex(ids).to_numpy()
        if kind == "invalid_nik":
            members.loc[heads, "nik"] = members.loc[heads, "nik"].str.slice(0, 15)
        elif kind == "nik_birth_date":
            nik = members.loc[heads, "nik"]
            members.loc[heads, "nik"] = nik.str.slice(0, 8) + "13" + nik.str.slice(10)
        elif kind == "duplicate_nik":
            second = heads + 1  # members are in family order: the head's next row is member 2
            members.loc[second, "nik"] = members.loc[heads, "nik"].to_numpy()
        elif kind == "n_members_mismatch":
            rows = families["family_id"].isin(ids)
            families.loc[rows, "n_members"] = np.where(
                families.loc[rows, "n_members"] < 30, families.loc[rows, "n_members"] + 1, 29
            )
        elif kind == "unknown_code":
            families.loc[families["family_id"].isin(ids), "floor_material"] = 12
        elif kind == "region_code_as_number":
            rows = families["family_id"].isin(ids)
            families.loc[rows, "village_code"] = families.loc[rows, "village_code"] + ".0"
    return pd.Series(defect, index=families.index)
