"""Feature blocks: each returns named numeric columns with their meaning and questionnaire items."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._keys import positions
from ..rules import Rules, apply_rules


@dataclass
class Block:
    """Named feature columns with their documentation, in insertion order."""

    columns: dict = field(default_factory=dict)
    docs: dict = field(default_factory=dict)

    def add(self, name: str, values, meaning: str, items: str, concept: str) -> None:
        self.columns[name] = np.asarray(values, dtype=np.float32)
        self.docs[name] = (meaning, items, concept)


def _codes(fam: pd.DataFrame, col: str) -> np.ndarray:
    return fam[col].to_numpy(dtype="float64", na_value=np.nan)


def _dummies(block: Block, fam: pd.DataFrame, col: str, labels: dict, item: str, concept: str, skip=()) -> None:
    values = _codes(fam, col)
    for code, label in labels.items():
        if code in skip:
            continue
        block.add(f"{col}_{code}", values == code, f"{concept}: {label}", item, concept)


# ------------------------------------------------------------------------------------------ members
def member_block(fam: pd.DataFrame, mem: pd.DataFrame, rules: Rules) -> Block:
    """Household composition, the head, education, work, health and the PKH components."""
    b = Block()
    code = positions(mem["family_id"], fam["family_id"])
    n = len(fam)
    ok = code >= 0
    code = code[ok]
    m = {
        c: mem[c].to_numpy(dtype="float64", na_value=np.nan)[ok]
        for c in (
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
    }
    for c in ("worked_last_week", "severe_disability", "chronic_illness"):
        m[c] = mem[c].to_numpy(dtype=bool, na_value=False)[ok]

    def count(mask):
        return np.bincount(code, weights=np.asarray(mask, dtype=np.float64), minlength=n)

    size = count(np.ones(len(code)))
    safe = np.maximum(size, 1)
    age = m["age"]
    bands = {"0_4": (0, 4), "5_14": (5, 14), "15_64": (15, 64), "65_plus": (65, 200)}
    b.add("household_size", size, "number of members", "112/401", "household size")
    b.add("log_household_size", np.log(safe), "log of the number of members", "112/401", "household size")
    for name, (lo, hi) in bands.items():
        cnt = count((age >= lo) & (age <= hi))
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
    dependants = count(age < 15) + count(age >= 65)
    b.add(
        "dependency_ratio",
        dependants / np.maximum(count((age >= 15) & (age < 65)), 1),
        "members under 15 or 65+ per member aged 15-64",
        "407",
        "household composition",
    )

    head = m["relationship"] == 1
    hcode = code[head]

    def head_value(values, default=np.nan):
        out = np.full(n, default, dtype=np.float64)
        out[hcode] = values[head]
        return out

    b.add("head_female", head_value(m["sex"] == 2, 0), "family head is a woman", "405", "family head")
    b.add("head_age", head_value(age), "age of the family head", "407", "family head")
    for code_, label in ((1, "never married"), (3, "divorced"), (4, "widowed")):
        b.add(
            f"head_marital_{code_}",
            head_value(m["marital_status"] == code_, 0),
            f"family head {label}",
            "408",
            "family head",
        )
    b.add(
        "head_education",
        head_value(m["education"]),
        "highest diploma of the head (0 none .. 6 S2/S3)",
        "413",
        "education",
    )
    b.add("head_works", head_value(m["worked_last_week"], 0), "family head worked last week", "416a", "work")
    sector = m["work_sector"]
    groups = {"agriculture": (1, 6), "industry": (7, 10), "services": (11, 19)}
    for name, (lo, hi) in groups.items():
        b.add(
            f"head_sector_{name}",
            head_value((sector >= lo) & (sector <= hi), 0),
            f"head's main job in {name}",
            "417",
            "work",
        )
    status = m["employment_status"]
    for code_, label in (
        (1, "own-account"),
        (2, "employer with temporary workers"),
        (3, "employer with permanent workers"),
        (4, "employee"),
        (5, "casual worker"),
        (6, "unpaid family worker"),
    ):
        b.add(f"head_status_{code_}", head_value(status == code_, 0), f"head is {label}", "417", "work")

    edu = m["education"]
    max_edu = np.full(n, 0.0)
    np.maximum.at(max_edu, code, np.nan_to_num(edu))
    b.add("max_education", max_edu, "highest diploma in the family", "413", "education")
    adult = age >= 15
    b.add(
        "mean_adult_education",
        count(np.where(adult, np.nan_to_num(edu), 0)) / np.maximum(count(adult), 1),
        "mean diploma level of members 15+",
        "413",
        "education",
    )
    b.add("n_higher_education", count(edu >= 4), "members with a diploma D1 or higher", "413", "education")
    working = m["worked_last_week"]
    b.add("n_working", count(working), "members who worked last week", "416a", "work")
    b.add(
        "share_adults_working",
        count(working & adult) / np.maximum(count(adult), 1),
        "share of members 15+ working",
        "416a",
        "work",
    )
    b.add("n_employees", count(working & (status == 4)), "members working as employees", "417", "work")
    b.add(
        "n_informal_workers",
        count(working & np.isin(status, [1, 5, 6])),
        "members in informal work (own-account, casual, unpaid)",
        "417",
        "work",
    )
    b.add(
        "n_agriculture_workers",
        count(working & (sector >= 1) & (sector <= 6)),
        "members working in agriculture",
        "417",
        "work",
    )
    b.add(
        "n_civil_servants",
        count((sector == 16) & (status == 4)),
        "members employed in public administration",
        "417",
        "work",
    )
    b.add(
        "n_children_out_of_school",
        count((age >= 7) & (age <= 18) & (m["school_participation"] != 2)),
        "members aged 7-18 not attending school",
        "412",
        "education",
    )
    b.add("n_severe_disability", count(m["severe_disability"]), "members with a severe disability", "428", "disability")
    b.add("n_chronic_illness", count(m["chronic_illness"]), "members with a chronic illness", "430", "health")
    ins = m["health_insurance"]
    for code_, label in (
        (1, "PBI JKN (subsidised)"),
        (2, "JKN self-paid"),
        (4, "JKN through an employer"),
        (0, "no insurance"),
    ):
        b.add(
            f"share_insurance_{code_}",
            count(ins == code_) / safe,
            f"share of members with {label}",
            "431a",
            "health insurance",
        )

    comps = apply_rules(fam, mem, rules)
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
    return b


# ----------------------------------------------------------------------------------------- dwelling
FLOOR_QUALITY = {1: 5, 2: 4, 3: 4, 4: 3, 5: 2, 6: 2, 7: 1, 8: 0, 9: 1}
WALL_QUALITY = {1: 4, 2: 3, 3: 2, 4: 1, 5: 1, 6: 0, 7: 1}
ROOF_QUALITY = {1: 4, 2: 3, 3: 2, 4: 2, 5: 0, 6: 1, 7: 0, 8: 1}
IMPROVED_WATER = [1, 2, 3, 4, 5, 7, 10]  # BPS: bottled/refill, piped, borehole, protected well/spring, rain
FUEL_GROUPS = {"clean": [1, 2, 3, 5, 6], "lpg_3kg": [4], "solid_or_kerosene": [7, 8, 9, 10], "none_or_other": [0, 11]}


def _ordinal(values: np.ndarray, mapping: dict) -> np.ndarray:
    lut = np.full(max(mapping) + 2, np.nan)
    for k, v in mapping.items():
        lut[k] = v
    return lut[np.clip(np.nan_to_num(values, nan=len(lut) - 1).astype(int), 0, len(lut) - 1)]


def dwelling_block(fam: pd.DataFrame, size: np.ndarray) -> Block:
    """Floor area, materials, water, sanitation, energy and tenure (items 301-310)."""
    from ..schema import load_contract

    codes = load_contract()["families"].columns
    b = Block()
    area = fam["floor_area_m2"].to_numpy(dtype="float64", na_value=np.nan)
    b.add("floor_area_per_capita", area / np.maximum(size, 1), "floor area per member (m2)", "302", "floor area (302)")
    b.add(
        "log_floor_area_per_capita",
        np.log(np.maximum(area, 1) / np.maximum(size, 1)),
        "log floor area per member",
        "302",
        "floor area (302)",
    )
    for col, mapping, item, concept in (
        ("floor_material", FLOOR_QUALITY, "303", "floor material (303)"),
        ("wall_material", WALL_QUALITY, "304", "wall material (304)"),
        ("roof_material", ROOF_QUALITY, "305", "roof material (305)"),
    ):
        b.add(
            f"{col.split('_')[0]}_quality",
            _ordinal(_codes(fam, col), mapping),
            f"ordinal quality of the {concept}",
            item,
            concept,
        )
        _dummies(b, fam, col, codes[col].codes, item, concept)
    water = _codes(fam, "drinking_water")
    b.add(
        "improved_water",
        np.isin(water, IMPROVED_WATER),
        "improved drinking water source (BPS definition)",
        "306a",
        "drinking water (306)",
    )
    _dummies(b, fam, "drinking_water", codes["drinking_water"].codes, "306a", "drinking water (306)")
    toilet, sewage = _codes(fam, "toilet_facility"), _codes(fam, "sewage_disposal")
    b.add(
        "improved_sanitation",
        np.isin(toilet, [1, 2, 3]) & np.isin(sewage, [1, 2]),
        "improved sanitation: own/shared/communal toilet with septic tank or treatment (BPS)",
        "309a/310",
        "sanitation (309-310)",
    )
    _dummies(b, fam, "toilet_facility", codes["toilet_facility"].codes, "309a", "sanitation (309-310)")
    _dummies(b, fam, "sewage_disposal", codes["sewage_disposal"].codes, "310", "sanitation (309-310)")
    _dummies(b, fam, "lighting", codes["lighting"].codes, "307a", "electricity (307)")
    va = np.nan_to_num(_codes(fam, "electricity_va"), nan=0.0)
    b.add(
        "electricity_va", va, "installed power of the PLN meter in VA (0 without a meter)", "307b", "electricity (307)"
    )
    b.add(
        "electricity_subsidised",
        (va == 450) | (va == 900),
        "450 or 900 VA connection (subsidised tariffs)",
        "307b",
        "electricity (307)",
    )
    fuel = _codes(fam, "cooking_fuel")
    for name, group in FUEL_GROUPS.items():
        b.add(
            f"cooking_fuel_{name}",
            np.isin(fuel, group),
            f"cooks with {name.replace('_', ' ')}",
            "308",
            "cooking fuel (308)",
        )
    _dummies(b, fam, "building_ownership", codes["building_ownership"].codes, "301a", "dwelling tenure (301)")
    return b


# ------------------------------------------------------------------------------------------- assets
ASSET_ITEMS = {
    "has_lpg_5kg": "LPG tube of 5.5 kg or more",
    "has_refrigerator": "refrigerator",
    "has_ac": "air conditioner",
    "has_water_heater": "water heater",
    "has_landline": "landline telephone",
    "has_flat_tv": "flat TV 30 inch+",
    "has_gold_10g": "gold or jewellery 10 g+",
    "has_computer": "computer, laptop or tablet",
    "has_motorcycle": "motorcycle",
    "has_bicycle": "bicycle",
    "has_car": "car",
    "has_boat": "boat",
    "has_motor_boat": "motor boat",
    "has_smartphone": "smartphone",
    "owns_land": "land besides the dwelling",
    "owns_other_house": "another house",
    "has_bank_account": "bank account or e-wallet",
}
# Tropical livestock units (FAO): weights per head
TLU = {"n_cattle": 0.7, "n_buffalo": 0.7, "n_horse": 0.8, "n_pig": 0.2, "n_goat": 0.1}


def asset_block(fam: pd.DataFrame) -> Block:
    """Each 502 item, land and other house (503), livestock (504), internet (505), bank account (506)."""
    from ..schema import load_contract

    specs = load_contract()["families"].columns
    b = Block()
    for col, label in ASSET_ITEMS.items():
        item = specs[col].item
        b.add(col, fam[col].to_numpy(dtype=bool, na_value=False), f"owns a {label}", item, f"{label} ({item})")
    tlu = sum(fam[c].to_numpy(dtype="float64", na_value=0.0) * wgt for c, wgt in TLU.items())
    b.add(
        "livestock_tlu",
        tlu,
        "livestock in tropical livestock units (cattle/buffalo 0.7, horse 0.8, pig 0.2, goat/sheep 0.1)",
        "504",
        "livestock (504)",
    )
    b.add("has_livestock", tlu > 0, "owns any livestock", "504", "livestock (504)")
    _dummies(b, fam, "internet_access", specs["internet_access"].codes, "505", "internet access (505)")
    return b
