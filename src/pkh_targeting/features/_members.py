"""Member features: household composition, the head, education, work, health and the PKH components."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.keys import positions
from ..rules import Rules
from ._block import Block

_NUMERIC = (
    "age",
    "sex",
    "relationship",
    "marital_status",
    "education",
    "work_sector",
    "employment_status",
    "health_insurance",
    "school_participation",
)
_FLAGS = ("worked_last_week", "severe_disability", "chronic_illness")


class _Members:
    """The members' columns as arrays, each member with its family's position."""

    def __init__(self, fam: pd.DataFrame, mem: pd.DataFrame):
        code = positions(mem["family_id"], fam["family_id"])
        ok = code >= 0
        self.n, self.code = len(fam), code[ok]
        self.m = {c: mem[c].to_numpy(dtype="float64", na_value=np.nan)[ok] for c in _NUMERIC}
        self.m.update({c: mem[c].to_numpy(dtype=bool, na_value=False)[ok] for c in _FLAGS})
        head = self.m["relationship"] == 1
        self.head, self.head_code = head, self.code[head]

    def count(self, mask) -> np.ndarray:
        """Members per family where ``mask`` holds."""
        return np.bincount(self.code, weights=np.asarray(mask, dtype=np.float64), minlength=self.n)

    def head_value(self, values, default=np.nan) -> np.ndarray:
        """The head's value of ``values`` per family (``default`` without a head)."""
        out = np.full(self.n, default, dtype=np.float64)
        out[self.head_code] = values[self.head]
        return out


def member_block(fam: pd.DataFrame, mem: pd.DataFrame, components: pd.DataFrame, rules: Rules) -> Block:
    """Household composition, the head, education, work, health and the PKH components
    (``components``: `apply_rules` of these records)."""
    mt = _Members(fam, mem)
    b = Block()
    for part in (_composition, _head, _education_and_work, _health):
        part(b, mt)
    _components(b, components, rules)
    return b


def _composition(b: Block, mt: _Members) -> None:
    size = mt.count(np.ones(len(mt.code)))
    safe = np.maximum(size, 1)
    age = mt.m["age"]
    bands = {"0_4": (0, 4), "5_14": (5, 14), "15_64": (15, 64), "65_plus": (65, 200)}
    b.add("household_size", size, "number of members", "112/401", "household size")
    b.add("log_household_size", np.log(safe), "log of the number of members", "112/401", "household size")
    for name, (lo, hi) in bands.items():
        cnt = mt.count((age >= lo) & (age <= hi))
        b.add(
            f"n_age_{name}",
            cnt,
            f"members aged {lo}-{hi}" if hi < 200 else "members aged 65+",
            "407",
            "household composition",
        )
        b.add(
            f"share_age_{name}",
            cnt / safe,
            f"share of members aged {lo}-{hi}" if hi < 200 else "share aged 65+",
            "407",
            "household composition",
        )
    dependants = mt.count(age < 15) + mt.count(age >= 65)
    b.add(
        "dependency_ratio",
        dependants / np.maximum(mt.count((age >= 15) & (age < 65)), 1),
        "members under 15 or 65+ per member aged 15-64",
        "407",
        "household composition",
    )


def _head(b: Block, mt: _Members) -> None:
    age = mt.m["age"]
    b.add("head_female", mt.head_value(mt.m["sex"] == 2, 0), "family head is a woman", "405", "family head")
    b.add("head_age", mt.head_value(age), "age of the family head", "407", "family head")
    for code_, label in ((1, "never married"), (3, "divorced"), (4, "widowed")):
        b.add(
            f"head_marital_{code_}",
            mt.head_value(mt.m["marital_status"] == code_, 0),
            f"family head {label}",
            "408",
            "family head",
        )
    b.add(
        "head_education",
        mt.head_value(mt.m["education"]),
        "highest diploma of the head (0 none .. 6 S2/S3)",
        "413",
        "education",
    )
    b.add("head_works", mt.head_value(mt.m["worked_last_week"], 0), "family head worked last week", "416a", "work")
    sector, status = mt.m["work_sector"], mt.m["employment_status"]
    groups = {"agriculture": (1, 6), "industry": (7, 10), "services": (11, 19)}
    for name, (lo, hi) in groups.items():
        b.add(
            f"head_sector_{name}",
            mt.head_value((sector >= lo) & (sector <= hi), 0),
            f"head's main job in {name}",
            "417",
            "work",
        )
    for code_, label in (
        (1, "own-account"),
        (2, "employer with temporary workers"),
        (3, "employer with permanent workers"),
        (4, "employee"),
        (5, "casual worker"),
        (6, "unpaid family worker"),
    ):
        b.add(f"head_status_{code_}", mt.head_value(status == code_, 0), f"head is {label}", "417", "work")


def _education_and_work(b: Block, mt: _Members) -> None:
    age, status, sector = mt.m["age"], mt.m["employment_status"], mt.m["work_sector"]
    edu = mt.m["education"]
    max_edu = np.full(mt.n, 0.0)
    np.maximum.at(max_edu, mt.code, np.nan_to_num(edu))
    b.add("max_education", max_edu, "highest diploma in the family", "413", "education")
    adult = age >= 15
    b.add(
        "mean_adult_education",
        mt.count(np.where(adult, np.nan_to_num(edu), 0)) / np.maximum(mt.count(adult), 1),
        "mean diploma level of members 15+",
        "413",
        "education",
    )
    b.add("n_higher_education", mt.count(edu >= 4), "members with a diploma D1 or higher", "413", "education")
    working = mt.m["worked_last_week"]
    b.add("n_working", mt.count(working), "members who worked last week", "416a", "work")
    b.add(
        "share_adults_working",
        mt.count(working & adult) / np.maximum(mt.count(adult), 1),
        "share of members 15+ working",
        "416a",
        "work",
    )
    b.add("n_employees", mt.count(working & (status == 4)), "members working as employees", "417", "work")
    b.add(
        "n_informal_workers",
        mt.count(working & np.isin(status, [1, 5, 6])),
        "members in informal work (own-account, casual, unpaid)",
        "417",
        "work",
    )
    b.add(
        "n_agriculture_workers",
        mt.count(working & (sector >= 1) & (sector <= 6)),
        "members working in agriculture",
        "417",
        "work",
    )
    b.add(
        "n_civil_servants",
        mt.count((sector == 16) & (status == 4)),
        "members employed in public administration",
        "417",
        "work",
    )
    b.add(
        "n_children_out_of_school",
        mt.count((age >= 7) & (age <= 18) & (mt.m["school_participation"] != 2)),
        "members aged 7-18 not attending school",
        "412",
        "education",
    )


def _health(b: Block, mt: _Members) -> None:
    safe = np.maximum(mt.count(np.ones(len(mt.code))), 1)
    disabled = mt.count(mt.m["severe_disability"])
    b.add("n_severe_disability", disabled, "members with a severe disability", "428", "disability")
    b.add("n_chronic_illness", mt.count(mt.m["chronic_illness"]), "members with a chronic illness", "430", "health")
    ins = mt.m["health_insurance"]
    for code_, label in (
        (1, "PBI JKN (subsidised)"),
        (2, "JKN self-paid"),
        (4, "JKN through an employer"),
        (0, "no insurance"),
    ):
        b.add(
            f"share_insurance_{code_}",
            mt.count(ins == code_) / safe,
            f"share of members with {label}",
            "431a",
            "health insurance",
        )


def _components(b: Block, comps: pd.DataFrame, rules: Rules) -> None:
    for name, comp in rules.components.items():
        b.add(
            f"n_{name}",
            comps[f"n_{name}_counted"],
            f"PKH component counted: {comp.label}",
            "407/410/412/428",
            "PKH components",
        )
    b.add(
        "n_components",
        comps["n_components"],
        "PKH components counted under the rules (after caps)",
        "407/410/412/428",
        "PKH components",
    )
    b.add(
        "benefit_rp",
        comps["benefit_rp"] / 1e6,
        "yearly PKH benefit the components entitle to (million rupiah)",
        "407/410/412/428",
        "PKH components",
    )
