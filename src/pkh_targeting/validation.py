"""Validation of household records against the contract, with a quarantine that loses nothing.

Every input row ends up either in the valid output or in the quarantine with its reasons. A family
with any invalid member is quarantined whole, with its members: a partial family would get the
wrong PKH components.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
import pyarrow.compute as pc

from ._keys import positions
from .exceptions import SchemaError
from .reading import standardize_columns
from .schema import ColumnSpec, column_checks, load_contract, table_schema

QUARANTINE_COLUMNS = ["table", "row", "family_id", "member_no", "column", "value", "rule", "message"]

_TRUE = ["1", "1.0", "true", "ya", "y", "yes", "benar"]
_FALSE = ["0", "0.0", "false", "tidak", "tdk", "no", "n", "bukan", "salah"]
_MAX_VALUE_CHARS = 80


@dataclass
class ValidationResult:
    """Outcome of `validate_records`.

    Attributes
    ----------
    families, members : DataFrame
        Valid rows with contract dtypes, indexed by their 0-based input row number.
    quarantine : DataFrame
        One row per problem: ``table, row, family_id, member_no, column, value, rule, message``.
        Personal data in ``value`` (NIK, names, addresses) is masked.
    n_read : dict
        Input rows per table.
    """

    families: pd.DataFrame
    members: pd.DataFrame
    quarantine: pd.DataFrame
    n_read: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Rows read, valid and quarantined per table."""
        q = self.quarantine.drop_duplicates(["table", "row"]).groupby("table").size()
        return pd.DataFrame(
            {
                "read": pd.Series(self.n_read),
                "valid": pd.Series({"families": len(self.families), "members": len(self.members)}),
                "quarantined": q.reindex(["families", "members"], fill_value=0),
            }
        )

    def rule_counts(self) -> pd.Series:
        """Number of problems per rule, most frequent first."""
        return self.quarantine["rule"].value_counts()


@dataclass(frozen=True)
class BatchDuplicates:
    """Keys that occur more than once in a whole batch validated in chunks (`pkh_targeting.batch`),
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


# --------------------------------------------------------------------------------------- coercion
def _isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for text keys, False where missing; by Arrow, because pandas' own isin on
    Arrow strings goes through a Python list of the values (slow for a million ids)."""
    arr = pa.array(s.astype("string"), type=pa.large_string())
    vals = pa.array(
        pd.Series(list(values) if isinstance(values, (set, frozenset)) else values, dtype="string"),
        type=pa.large_string(),
    )
    hit = pc.fill_null(pc.is_in(arr, value_set=vals), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index)


def _text(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.mask(out == "")


def _coerce(s: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Cast ``s`` to the contract dtype; return it and the mask of values that could not be cast."""
    if spec.dtype == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), pd.Series(False, index=s.index)
        txt = _text(s).str.lower() if not pd.api.types.is_numeric_dtype(s) else _text(s)
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[txt.isin(_TRUE).fillna(False)] = True
        out[txt.isin(_FALSE).fillna(False)] = False
        return out, out.isna() & txt.notna()
    if spec.dtype in ("int", "float"):
        if spec.dtype == "int" and pd.api.types.is_integer_dtype(s):
            return s.astype("Int64"), pd.Series(False, index=s.index)
        raw = s if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else _text(s)
        num = pd.to_numeric(raw, errors="coerce").astype("Float64")
        bad = num.isna() & raw.notna() & ~_is_nan_text(raw)
        if spec.dtype == "float":
            return num.astype("float64"), bad
        frac = num.notna() & np.isfinite(num.fillna(0)) & (num.fillna(0) % 1 != 0)
        inf = num.notna() & ~np.isfinite(num.fillna(0))
        bad = bad | frac | inf
        num = num.mask(frac | inf)
        return num.astype("Int64"), bad
    if spec.dtype == "string":
        if pd.api.types.is_float_dtype(s):
            out = s.astype("Int64").astype("string") if (s.dropna() % 1 == 0).all() else s.astype("string")
        else:
            out = _text(s)
        if spec.fixed_digits and not spec.pii:
            # Excel turns codes into numbers: "3273010001.0", or "1101" for "01101" (leading zero lost)
            out = out.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
            short = out.str.fullmatch(r"\d+").fillna(False) & (out.str.len() < spec.fixed_digits)
            if short.any():
                out = out.where(~short, out.str.zfill(spec.fixed_digits))
        return out, pd.Series(False, index=s.index)
    raise ValueError(f"unknown contract dtype {spec.dtype!r} for {spec.name}")  # pragma: no cover


def _is_nan_text(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw):
        return pd.Series(False, index=raw.index)
    return raw.str.lower().isin(["nan", "na", "n/a", "null", "none", "-"]).fillna(False)


def _value_text(raw: pd.Series, spec: ColumnSpec | None) -> pd.Series:
    """Offending values as short text; personal data masked (NIK keeps its first 6 and last 4)."""
    txt = raw.astype("string").str.slice(0, _MAX_VALUE_CHARS)
    if spec is not None and spec.pii:
        txt = mask_nik(txt) if spec.name == "nik" else txt.where(txt.isna(), "<masked>")
    return txt.fillna("<missing>")


def mask_nik(nik: pd.Series) -> pd.Series:
    """NIK with only the first 6 and last 4 characters shown, as on public lists."""
    nik = nik.astype("string")
    return nik.str.slice(0, 6) + "*" * 6 + nik.str.slice(-4)


# ---------------------------------------------------------------------------------- problem table
class _Problems:
    """Collects problems of one table as (row positions, column, rule, message) blocks."""

    def __init__(self, table: str, raw: pd.DataFrame):
        self.table, self.raw, self.blocks = table, raw, []
        self.specs = load_contract()[table].columns

    def add(self, mask, column: str, rule: str, message) -> None:
        """Record ``rule`` failing on the rows in ``mask``; ``message`` is text, or a function of the
        failing row positions returning their messages."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        msg = message if isinstance(message, str) else np.asarray(message(rows), dtype=object)
        self.blocks.append((rows, column, rule, msg))

    def frame(self) -> pd.DataFrame:
        if not self.blocks:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS}).astype({"row": "int64"})
        parts = []
        for rows, column, rule, msg in self.blocks:
            col = self.raw[column].iloc[rows] if column in self.raw.columns else None
            value = _value_text(col, self.specs.get(column)) if col is not None else pd.Series("", index=rows)
            parts.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "column": column,
                        "value": np.asarray(value, dtype=object),
                        "rule": rule,
                        "message": msg,
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "table", self.table)
        keys = self.raw["family_id"].astype("string").iloc[out["row"]].to_numpy()
        out.insert(2, "family_id", keys)
        mno = self.raw["member_no"].astype("string").iloc[out["row"]].to_numpy() if self.table == "members" else None
        out.insert(3, "member_no", mno)
        return out[QUARANTINE_COLUMNS]


def _describe(spec: ColumnSpec) -> str:
    return f"{spec.name} (item {spec.item})" if spec.item else spec.name


def _column_checks(df: pd.DataFrame, table: str, problems: _Problems, cast_failed: set) -> None:
    """Per-column rules from the contract, checked by pandera."""
    try:
        table_schema(table).validate(df, lazy=True)
        return
    except pandera.errors.SchemaErrors as err:
        fc = err.failure_cases
    fc = fc[fc["index"].notna()]
    specs = load_contract()[table].columns
    fc = fc.assign(check_number=fc["check_number"].fillna(-1).astype("int64"))
    for (column, number), grp in fc.groupby(["column", "check_number"], sort=False):
        spec = specs[column]
        check = "not_nullable" if number < 0 else column_checks(spec)[number][0]
        rows = grp["index"].astype("int64").to_numpy()
        rows = np.array([r for r in rows if (column, r) not in cast_failed], dtype="int64")
        if not len(rows):
            continue
        mask = np.zeros(len(df), dtype=bool)
        mask[rows] = True
        name = _describe(spec)
        if check == "not_nullable":
            problems.add(mask, column, "not_null", f"{name} is required but missing")
        elif check == "codes":
            allowed = ", ".join(f"{k} {v}" for k, v in spec.codes.items())
            problems.add(mask, column, "codes", f"{name} has a code outside the contract's list ({allowed})")
        elif check == "min":
            problems.add(mask, column, "range", f"{name} is below the minimum {spec.min:g}")
        elif check == "max":
            problems.add(mask, column, "range", f"{name} is above the maximum {spec.max:g}")
        elif check == "pattern":
            problems.add(mask, column, "pattern", f"{name} does not match the pattern {spec.pattern}")
        else:  # pragma: no cover - every contract check is named above
            problems.add(mask, column, str(check), f"{name} fails {check}")


def _coerce_table(raw: pd.DataFrame, table: str, problems: _Problems) -> tuple[pd.DataFrame, set]:
    specs = load_contract()[table].columns
    out = raw.copy()
    cast_failed = set()
    for name, spec in specs.items():
        if name not in raw.columns:
            continue
        out[name], bad = _coerce(raw[name], spec)
        expected = {"bool": "true/false (1/0, Ya/Tidak)", "int": "a whole number", "float": "a number"}
        if bad.any():
            problems.add(bad, name, "dtype", f"{_describe(spec)} must be {expected.get(spec.dtype, spec.dtype)}")
            cast_failed.update((name, r) for r in np.flatnonzero(bad.to_numpy()))
        if spec.dtype == "float":
            inf = np.isinf(out[name].to_numpy(dtype="float64", na_value=np.nan))
            problems.add(inf, name, "range", f"{_describe(spec)} must be finite")
            out[name] = out[name].mask(inf)
            cast_failed.update((name, r) for r in np.flatnonzero(inf))
    return out, cast_failed


# ------------------------------------------------------------------------------ cross-field rules
def _family_rules(fam: pd.DataFrame, mem: pd.DataFrame, problems: _Problems, dups: BatchDuplicates) -> None:
    fid = fam["family_id"]
    problems.add(
        (fid.duplicated(keep=False) | _isin(fid, dups.family_ids)) & fid.notna(),
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


def _member_rules(mem: pd.DataFrame, fam: pd.DataFrame, problems: _Problems, ref: dt.date, dups) -> None:
    known = pd.Index(fam["family_id"].dropna().unique())
    orphan = ~_isin(mem["family_id"], known)
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
    _nik_rules(mem, fam, problems, ref, dups)


def is_nik(text) -> np.ndarray:
    """Whether each of ``text`` (Arrow strings) is a well-formed NIK: 16 ASCII digits."""
    ok = pc.and_(pc.equal(pc.binary_length(text), 16), pc.ascii_is_decimal(text))
    return pc.fill_null(ok, False).to_numpy(zero_copy_only=False)


def _nik_rules(mem: pd.DataFrame, fam: pd.DataFrame, problems: _Problems, ref: dt.date, dups) -> None:
    nik = mem["nik"]
    ok = is_nik(pa.array(nik.array))
    elsewhere = pd.Series(dups.nik_families, dtype="float64")
    dup = (nik.duplicated(keep=False) | _isin(nik, elsewhere.index)) & nik.notna()
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


# ------------------------------------------------------------------------------------------- main
def as_reference_date(value=None) -> dt.date:
    """The date ages refer to: ``value`` (a date or ISO text), today by default; never in the future."""
    ref = pd.Timestamp(value or dt.date.today()).date()
    if ref > dt.date.today():
        raise ValueError(f"reference date {ref} is in the future: ages refer to a date the data describes.")
    return ref


def _check_tables_match(fam: pd.DataFrame, mem: pd.DataFrame) -> None:
    """A members file for other families is a wrong file, not thousands of problems."""
    if not len(fam) or not len(mem):
        return
    f, m = _text(fam["family_id"]).dropna(), _text(mem["family_id"]).dropna()
    if len(f) and len(m) and not _isin(m, f).any():
        raise SchemaError(
            f"none of the {len(mem):,} members belongs to any of the {len(fam):,} families (family_id, "
            f"e.g. {m.iloc[0]!r} vs {f.iloc[0]!r}): check that the members file goes with this families file."
        )


def validate_records(
    families: pd.DataFrame, members: pd.DataFrame, *, reference_date=None, known_duplicates=None
) -> ValidationResult:
    """Check families and members against the data contract and quarantine what fails.

    Parameters
    ----------
    families, members : DataFrame
        Tables as exported (any dtypes; see `read_records`). Column names may be Indonesian aliases.
    reference_date : date, optional
        The date ages refer to, for the NIK birth-date check; today by default.
    known_duplicates : BatchDuplicates, optional
        Keys duplicated elsewhere in the batch, when these tables are one chunk of it.

    Returns
    -------
    ValidationResult
        ``.families`` and ``.members`` (valid rows, contract dtypes) and ``.quarantine``.

    Raises
    ------
    SchemaError
        A required column is missing or duplicated.

    Examples
    --------
    >>> from pkh_targeting import generate_registry, validate_records
    >>> reg = generate_registry(200, seed=1)
    >>> res = validate_records(reg.families, reg.members, reference_date=reg.reference_date)
    >>> len(res.families), len(res.quarantine)
    (200, 0)
    """
    ref = as_reference_date(reference_date)
    raw_f = standardize_columns(families, "families").reset_index(drop=True)
    raw_m = standardize_columns(members, "members").reset_index(drop=True)
    pf, pm = _Problems("families", raw_f), _Problems("members", raw_m)
    fam, f_failed = _coerce_table(raw_f, "families", pf)
    mem, m_failed = _coerce_table(raw_m, "members", pm)
    _column_checks(fam, "families", pf, f_failed)
    _column_checks(mem, "members", pm, m_failed)
    _check_tables_match(raw_f, raw_m)
    dups = known_duplicates or BatchDuplicates()
    _family_rules(fam, mem, pf, dups)
    _member_rules(mem, fam, pm, ref, dups)

    qf, qm = pf.frame(), pm.frame()
    bad_ids = pd.Index(pd.concat([qf["family_id"], qm["family_id"]]).dropna().unique())
    f_bad = _isin(fam["family_id"], bad_ids).to_numpy(dtype=bool, copy=True)
    f_bad[qf["row"].to_numpy()] = True
    m_bad = (_isin(mem["family_id"], bad_ids) | mem["family_id"].isna()).to_numpy(dtype=bool, copy=True)
    m_bad[qm["row"].to_numpy()] = True
    # Rows quarantined only because of another row of their family.
    f_own, m_own = np.zeros(len(fam), bool), np.zeros(len(mem), bool)
    f_own[qf["row"].to_numpy()] = True
    m_own[qm["row"].to_numpy()] = True
    pf.blocks, pm.blocks = [], []
    pf.add(
        f_bad & ~f_own,
        "family_id",
        "invalid_member",
        "family quarantined whole because of a problem in its members (see their rows)",
    )
    pm.add(
        m_bad & ~m_own,
        "family_id",
        "invalid_family",
        "member quarantined with its family, which has a problem (see the family's rows)",
    )
    parts = [q for q in (qf, pf.frame(), qm, pm.frame()) if len(q)]
    quarantine = pd.concat(parts, ignore_index=True) if parts else qf
    quarantine = quarantine.sort_values(["table", "row"], kind="stable").reset_index(drop=True)
    return ValidationResult(
        families=_finalize(fam[~f_bad], "families"),
        members=_finalize(mem[~m_bad], "members"),
        quarantine=quarantine,
        n_read={"families": len(fam), "members": len(mem)},
    )


_FINAL_DTYPES = {
    ("int", False): "int64",
    ("int", True): "Int64",
    ("bool", False): "bool",
    ("bool", True): "boolean",
    ("float", False): "float64",
    ("float", True): "float64",
    ("string", False): "string",
    ("string", True): "string",
}


def _finalize(df: pd.DataFrame, table: str) -> pd.DataFrame:
    specs = load_contract()[table].columns
    return df.astype({c: _FINAL_DTYPES[specs[c].dtype, specs[c].nullable] for c in df.columns if c in specs})
