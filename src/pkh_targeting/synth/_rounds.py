"""The next quarter of a synthetic registry: the same families three months on.

What changes in the population (the truth): members are born and die, ages move on, consumption
moves with a shock, a few families move away; eligibility follows. What changes in the registry
(what an office sees) lags behind, as it does in DTSEN: half of the births and a third of the deaths
are entered, Dukcapil records most deaths, new community reports arrive, and the registry applies a
share of the office's decisions (removals and additions). Everything else in the records stays as it
was, stale: that is what field verification finds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.contract import load_contract
from ..records.keys import nik_birth_date
from ..rules import apply_rules, load_rules
from ._evidence import deaths_since_registry
from ._identity import make_names, make_niks
from ._reports import community_reports

QUARTER = 3
_BIRTHS = 0.045  # per family with a woman aged 15-44, a quarter
_MOVES = 0.004
_ENTERED = {"birth": 0.5, "death": 1 / 3}


def _ages(members: pd.DataFrame, old_ref, new_ref, rng) -> np.ndarray:
    """Ages on ``new_ref``: from the NIK's birth date where it agrees with the age, else the age plus one
    with the chance of a birthday in between."""
    birth = nik_birth_date(members["nik"], members["age"], old_ref)
    years = np.floor((np.datetime64(new_ref, "D") - birth).astype("float64") / 365.2425)
    age = members["age"].to_numpy(dtype="float64")
    fallback = age + (rng.random(len(age)) < QUARTER / 12)
    ok = ~np.isnan(years) & (np.abs(years - age) <= 1)
    return np.where(ok, np.maximum(years, age), fallback).astype(int)


def _births(true: pd.DataFrame, families: pd.DataFrame, ref, round_no: int, rng) -> pd.DataFrame:
    """Babies born this quarter, one row each in the members' columns."""
    mothers = true[~true["died"] & (true["sex"] == 2) & true["age"].between(15, 44) & true["relationship"].isin([1, 2])]
    fam = mothers["family_id"].drop_duplicates()
    born = fam[rng.random(len(fam)) < _BIRTHS].to_numpy()
    if not len(born):
        return true.iloc[:0]
    template = true[true["age"] == 0].iloc[[0]] if (true["age"] == 0).any() else true.iloc[[0]]
    kids = template.loc[template.index.repeat(len(born))].reset_index(drop=True)
    sex = rng.integers(1, 3, len(born))
    district = families.set_index("family_id")["district_code"].reindex(born).to_numpy()
    stem = pd.Series(make_niks(district.astype(str), np.zeros(len(born), int), sex, ref, rng)).str.slice(0, 12)
    serial = 5000 + 300 * (round_no % 16) + stem.groupby(stem).cumcount()  # serials of their own: no NIK twice
    nik = pd.Series(stem + serial.map("{:04d}".format), dtype="string")
    next_no = true.groupby("family_id")["member_no"].max().reindex(born).to_numpy() + 1
    kids = kids.assign(
        family_id=born, member_no=next_no, sex=sex, age=0, relationship=3, marital_status=1, pregnant=False,
        school_participation=1, school_level=pd.NA, education=0, worked_last_week=False, work_sector=0,
        employment_status=0, severe_disability=False, chronic_illness=False,
        nik=nik.where(rng.random(len(born)) >= 0.3), name=make_names(sex, rng), died=False,
    )  # fmt: skip
    return kids.astype(true.dtypes.to_dict())


def _death_records(dead: pd.DataFrame, families: pd.DataFrame, old_ref, new_ref, seed: int, rng):
    """Dukcapil's records of this quarter's deaths (most of them), and whom each is about."""
    dead = dead[rng.random(len(dead)) < 0.9].reset_index(drop=True)
    days = (pd.Timestamp(new_ref) - pd.Timestamp(old_ref)).days
    records = pd.DataFrame({
        "source": pd.array(["death"] * len(dead), dtype="string"),
        "record_id": pd.array([f"R{seed}-D{i:07d}" for i in range(len(dead))], dtype="string"),
        "nik": dead["nik"].astype("string"), "full_name": dead["name"].astype("string").str.upper(),
        "birth_date": pd.Series(nik_birth_date(dead["nik"], dead["age"], new_ref)).dt.normalize(),
        "sex": pd.array(dead["sex"], dtype="Int64"),
        "regency_code": dead["family_id"].map(families.set_index("family_id")["regency_code"]).astype("string"),
        "value": np.nan,
        "as_of": (pd.Timestamp(old_ref) + pd.to_timedelta(rng.integers(1, days + 1, len(dead)), unit="D")).normalize(),
    })  # fmt: skip
    truth = pd.DataFrame({"source": records["source"], "record_id": records["record_id"],
                          "family_id": dead["family_id"].astype("string"),
                          "member_no": pd.array(dead["member_no"], dtype="Int64"), "kind": "exact_nik"})  # fmt: skip
    return records, truth.astype({"kind": "string"})


def _welfare(truth: pd.DataFrame, rng) -> pd.DataFrame:
    """Consumption after this quarter's shock, and the desil it ranks into."""
    c = truth["consumption_per_capita"].to_numpy() * np.exp(rng.normal(0, 0.10, len(truth)))
    real = c / truth["poverty_line"].to_numpy()
    desil = np.minimum(np.floor(pd.Series(real).rank(method="first", pct=True).to_numpy() * 10) + 1, 10).astype(int)
    return truth.assign(consumption_per_capita=np.round(c), poor=real < 1, desil=desil)


def _applied(families: pd.DataFrame, decisions, share: float, rng) -> np.ndarray:
    """Beneficiary status once the registry has applied ``share`` of the decisions (remove, add)."""
    receives = families["receives_pkh"].to_numpy(dtype=bool).copy()
    if decisions is None or not len(decisions):
        return receives
    u = rng.random(len(families))  # one draw per family, whatever the decisions: the rest of the quarter is the same
    d = decisions.drop_duplicates("family_id", keep="last")
    d = d[d["decision"].isin(["remove", "add"])]
    at = pd.Index(families["family_id"]).get_indexer(d["family_id"])
    d, at = d[at >= 0], at[at >= 0]
    applied = u[at] < share
    receives[at[applied]] = d["decision"].to_numpy()[applied] == "add"
    return receives


def next_round(reg, decisions=None, *, apply_share: float = 0.7, rules="pkh-2025") -> dict:
    """The fields of the `Registry` ``reg`` one quarter later (`Registry.next_round`); ``decisions``
    (``family_id, decision``) are the office's, of which the registry applies ``apply_share``."""
    k = reg.round + 1
    rng = np.random.default_rng([reg.seed, 101, k])
    old_ref = reg.reference_date
    ref = (pd.Timestamp(old_ref) + pd.DateOffset(months=QUARTER)).date()
    true, members, families = reg.member_truth.copy(), reg.members.copy(), reg.families.copy()
    true["age"], members["age"] = _ages(true, old_ref, ref, rng), _ages(members, old_ref, ref, rng)
    babies = _births(true, families, ref, k, rng)
    dying = ~true["died"].to_numpy() & deaths_since_registry(true["age"].to_numpy(), 0.06 / 4, rng)
    true.loc[dying, "died"] = True
    dead = true[dying]
    entered = babies[rng.random(len(babies)) < _ENTERED["birth"]]
    gone = dead[(dead["relationship"] != 1).to_numpy() & (rng.random(len(dead)) < _ENTERED["death"])]
    at = pd.MultiIndex.from_frame(members[["family_id", "member_no"]])
    members = members[~at.isin(pd.MultiIndex.from_frame(gone[["family_id", "member_no"]]))]
    members = pd.concat([members, entered[members.columns]], ignore_index=True)
    members = members.sort_values(["family_id", "member_no"], ignore_index=True)
    size = families["family_id"].map(members.groupby("family_id").size())
    families["n_members"] = size.astype(families["n_members"].dtype)
    families["receives_pkh"] = _applied(families, decisions, apply_share, np.random.default_rng([reg.seed, 102, k]))
    true = pd.concat([true, babies], ignore_index=True).sort_values(["family_id", "member_no"], ignore_index=True)
    records, record_truth = _death_records(dead, families, old_ref, ref, reg.seed * 100 + k, rng)
    truth = _truth(reg.truth, families, true, load_rules(rules), rng)
    reports, report_truth = _new_reports(families, truth, old_ref, ref, reg.seed * 100 + k)
    return {
        "families": families, "members": members.astype(reg.members.dtypes.to_dict()), "truth": truth,
        "reference_date": ref, "round": k, "member_truth": true,
        "registry_records": pd.concat([reg.registry_records, records], ignore_index=True),
        "record_truth": pd.concat([reg.record_truth, record_truth], ignore_index=True),
        "community_reports": pd.concat([reg.community_reports, reports], ignore_index=True),
        "report_truth": pd.concat([reg.report_truth, report_truth], ignore_index=True),
    }  # fmt: skip


def _truth(old: pd.DataFrame, families: pd.DataFrame, true: pd.DataFrame, rules, rng) -> pd.DataFrame:
    """Welfare, components and eligibility of the living members, status and errors this quarter."""
    truth = _welfare(old, rng)
    columns = list(load_contract()["members"].columns)
    comps = apply_rules(families[["family_id"]], true.loc[~true["died"], columns], rules)
    comps = comps.reindex(truth["family_id"].to_numpy())
    for col in comps.columns:
        truth[col] = comps[col].to_numpy()
    receives = families["receives_pkh"].to_numpy(dtype=bool)
    truth["eligible"] = (truth["desil"] <= rules.desil_cutoff).to_numpy() & truth["has_component"].to_numpy(bool)
    truth["receives_pkh"] = receives
    truth["inclusion_error"] = receives & ~truth["eligible"]
    truth["exclusion_error"] = ~receives & truth["eligible"]
    moved = old["moved"].to_numpy(bool) if "moved" in old else np.zeros(len(old), bool)
    truth["moved"] = moved | (rng.random(len(old)) < _MOVES)
    died = true[true["died"]].groupby("family_id").size()
    truth["n_died"] = truth["family_id"].map(died).fillna(0).astype(int).to_numpy()
    return truth


def _new_reports(families: pd.DataFrame, truth: pd.DataFrame, old_ref, ref, seed: int):
    """The community reports made this quarter, and whether each is right."""
    reports, right, _ = community_reports(
        families["family_id"].to_numpy(), families["village_code"].to_numpy(),
        truth["receives_pkh"].to_numpy(), truth["eligible"].to_numpy(), ref, seed, 0.0,
    )  # fmt: skip
    new = (reports["reported_on"] > pd.Timestamp(old_ref)).to_numpy()
    return reports[new].reset_index(drop=True), right[new].reset_index(drop=True)
