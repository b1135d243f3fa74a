"""Rules across fields and tables: family consistency, member plausibility and the NIK's digits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from ._problems import Problems
from .keys import BatchDuplicates, is_nik, isin, positions


def family_rules(fam: pd.DataFrame, mem: pd.DataFrame, problems: Problems, dups: BatchDuplicates) -> None:
    fid = fam["family_id"]
    problems.add(
        (fid.duplicated(keep=False) | isin(fid, dups.family_ids)) & fid.notna(),
        "family_id",
        "duplicate_family_id",
        "family_id appears more than once in the families table",
    )
    for child, parent, width in (
        ("regency_code", "province_code", 2),
        ("district_code", "regency_code", 4),
        ("village_code", "district_code", 7),
    ):
        c, p = fam[child], fam[parent]
        bad = c.notna() & p.notna() & (c.str.slice(0, width) != p)
        problems.add(bad.fillna(False), child, "region_nesting", f"{child} does not start with {parent}")
    va = fam["electricity_va"].notna() & (fam["lighting"] != 1).fillna(True)
    problems.add(
        va,
        "electricity_va",
        "electricity_va_without_meter",
        "electricity_va (item 307b) is given but lighting (307a) is not PLN metered",
    )
    first = positions(fid, fid)  # families rows sharing an id count the same members
    member_of = positions(mem["family_id"], fid)
    inside = member_of >= 0

    def per_family(weights) -> pd.Series:
        count = np.bincount(member_of[inside], weights=np.asarray(weights)[inside], minlength=len(fid) + 1)
        return pd.Series(count[first], index=fam.index).astype("int64")  # -1 (missing id) -> the 0 at the end

    n_rows = per_family(np.ones(len(mem)))
    bad = fam["n_members"].notna() & (fam["n_members"] != n_rows).fillna(False)
    problems.add(
        bad,
        "n_members",
        "n_members_mismatch",
        lambda rows: (
            "n_members (item 112) = "
            + fam["n_members"].iloc[rows].astype("string").fillna("?")
            + " but the members table has "
            + n_rows.iloc[rows].astype("string")
            + " row(s)"
        ),
    )
    n_heads = per_family((mem["relationship"] == 1).fillna(False).to_numpy(dtype=bool))
    problems.add(
        (n_heads != 1) & fid.notna(),
        "relationship",
        "one_head",
        lambda rows: (
            "the family has "
            + n_heads.iloc[rows].astype("string")
            + " members with relationship = head; it needs exactly one"
        ),
    )


def member_rules(mem: pd.DataFrame, fam: pd.DataFrame, problems: Problems, ref: dt.date, dups: BatchDuplicates) -> None:
    known = pd.Index(fam["family_id"].dropna().unique())
    orphan = ~isin(mem["family_id"], known)
    problems.add(
        orphan & mem["family_id"].notna(),
        "family_id",
        "member_without_family",
        "member's family_id is not in the families table",
    )
    key_dup = mem.duplicated(["family_id", "member_no"], keep=False) & mem["family_id"].notna()
    problems.add(key_dup, "member_no", "duplicate_member_no", "member_no appears twice in the family")
    preg_ok = (mem["sex"] == 2) & mem["age"].between(10, 54)
    problems.add(
        (mem["pregnant"] & ~preg_ok.fillna(False)).fillna(False),
        "pregnant",
        "pregnant_implausible",
        "pregnant (item 410) is only possible for women aged 10-54",
    )
    problems.add(
        mem["school_level"].notna() & (mem["school_participation"] != 2).fillna(True),
        "school_level",
        "school_level_not_attending",
        "school_level is given but the member is not attending school (412)",
    )
    nik_rules(mem, fam, problems, ref, dups)


def nik_rules(mem: pd.DataFrame, fam: pd.DataFrame, problems: Problems, ref: dt.date, dups: BatchDuplicates) -> None:
    nik = mem["nik"]
    ok = is_nik(pa.array(nik.array))
    elsewhere = pd.Series(dups.nik_families, dtype="float64")
    dup = (nik.duplicated(keep=False) | isin(nik, elsewhere.index)) & nik.notna()
    if dup.any():
        local = mem[dup].groupby("nik")["family_id"].transform("nunique")
        n_fam = np.maximum(local.to_numpy(), elsewhere.reindex(mem.loc[dup, "nik"]).fillna(0).to_numpy())
        msg = np.where(n_fam > 1, "NIK appears in more than one family", "NIK appears twice in one family")
        problems.add(dup, "nik", "nik_duplicate", lambda rows: msg)
    if not ok.any():
        return
    # the 16 digits as a (rows, 16) array of numbers
    digits = np.frombuffer(nik.where(ok, "0" * 16).to_numpy(dtype="S16").tobytes(), dtype=np.uint8).reshape(
        -1, 16
    ).astype(np.int64) - ord("0")
    two = lambda i: digits[:, i] * 10 + digits[:, i + 1]  # noqa: E731
    fam_of = positions(mem["family_id"], fam["family_id"])  # -1 (no such family) takes the appended default
    known = np.append(fam["regency_code"].notna().to_numpy(dtype=bool), False)[fam_of]
    reg_num = np.append(pd.to_numeric(fam["regency_code"], errors="coerce").fillna(-1).to_numpy(), -1)[fam_of]
    bad_region = ok & known & (two(0) * 100 + two(2) != reg_num)
    problems.add(bad_region, "nik", "nik_region", "NIK digits 1-4 do not match the family's regency_code")
    dd, mm, yy = two(6), two(8), two(10)
    female = dd > 40
    day = np.where(female, dd - 40, dd)
    age = mem["age"].to_numpy(dtype="float64", na_value=np.nan)
    expected_year = ref.year - np.nan_to_num(age, nan=30)
    y1, y2 = 1900 + yy, 2000 + yy
    year = np.where((np.abs(y2 - expected_year) < np.abs(y1 - expected_year)) & (y2 <= ref.year), y2, y1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    max_day = month_days[np.clip(mm, 0, 12)] + ((mm == 2) & leap)
    valid_date = (mm >= 1) & (mm <= 12) & (day >= 1) & (day <= max_day)
    problems.add(
        ok & ~valid_date,
        "nik",
        "nik_birth_date",
        "NIK digits 7-12 are not a real birth date (DDMMYY, day + 40 for women)",
    )
    sex = mem["sex"].to_numpy(dtype="float64", na_value=np.nan)
    problems.add(
        ok & valid_date & ~np.isnan(sex) & (female != (sex == 2)),
        "nik",
        "nik_sex",
        lambda rows: np.char.add(
            np.where(female[rows], "NIK birth day says female", "NIK birth day says male"),
            " but sex (item 405) says otherwise",
        ),
    )
    after_birthday = (ref.month > mm) | ((ref.month == mm) & (ref.day >= day))
    implied = ref.year - year - (~after_birthday).astype(int)
    problems.add(
        ok & valid_date & ~np.isnan(age) & (np.abs(implied - age) > 1),
        "nik",
        "nik_age",
        "age (item 407) differs by more than one year from the NIK birth date",
    )
