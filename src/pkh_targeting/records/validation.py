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

from ..exceptions import SchemaError
from ._coercion import coerce_table
from ._consistency import family_rules, member_rules
from ._problems import QUARANTINE_COLUMNS, Problems, column_rules
from .contract import load_contract
from .keys import BatchDuplicates, isin, normalize_text
from .reading import standardize_columns

__all__ = ["QUARANTINE_COLUMNS", "BatchDuplicates", "ValidationResult", "as_reference_date", "validate_records"]


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
    f, m = normalize_text(fam["family_id"]).dropna(), normalize_text(mem["family_id"]).dropna()
    if len(f) and len(m) and not isin(m, f).any():
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
    pf, pm = Problems("families", raw_f), Problems("members", raw_m)
    fam, f_failed = coerce_table(raw_f, "families", pf)
    mem, m_failed = coerce_table(raw_m, "members", pm)
    column_rules(fam, "families", pf, f_failed)
    column_rules(mem, "members", pm, m_failed)
    _check_tables_match(raw_f, raw_m)
    dups = known_duplicates or BatchDuplicates()
    family_rules(fam, mem, pf, dups)
    member_rules(mem, fam, pm, ref, dups)

    quarantine, f_bad, m_bad = _quarantine_whole_families(fam, mem, pf, pm)
    return ValidationResult(
        families=_finalize(fam[~f_bad], "families"),
        members=_finalize(mem[~m_bad], "members"),
        quarantine=quarantine,
        n_read={"families": len(fam), "members": len(mem)},
    )


def _quarantine_whole_families(fam, mem, pf: Problems, pm: Problems):
    """The quarantine, in table and row order, with every row of a family that has a problem; and
    the masks of the families and members rows it holds."""
    qf, qm = pf.frame(), pm.frame()
    bad_ids = pd.Index(pd.concat([qf["family_id"], qm["family_id"]]).dropna().unique())
    f_bad = isin(fam["family_id"], bad_ids).to_numpy(dtype=bool, copy=True)
    f_bad[qf["row"].to_numpy()] = True
    m_bad = (isin(mem["family_id"], bad_ids) | mem["family_id"].isna()).to_numpy(dtype=bool, copy=True)
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
    return quarantine.sort_values(["table", "row"], kind="stable").reset_index(drop=True), f_bad, m_bad


def _finalize(df: pd.DataFrame, table: str) -> pd.DataFrame:
    dtypes = load_contract()[table].dtypes
    return df.astype({c: dtypes[c] for c in df.columns if c in dtypes})
