"""Dwelling features: floor area, materials, water, sanitation, energy and tenure (items 301-310)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.contract import load_contract
from ._block import Block, codes, dummies

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
    specs = load_contract()["families"].columns
    b = Block()
    _structure(b, fam, size, specs)
    _water_and_sanitation(b, fam, specs)
    _energy(b, fam, specs)
    dummies(b, fam, "building_ownership", specs["building_ownership"].codes, "301a", "dwelling tenure (301)")
    return b


def _structure(b: Block, fam: pd.DataFrame, size: np.ndarray, specs: dict) -> None:
    """Floor area per member and the materials of floor, walls and roof (302-305)."""
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
            _ordinal(codes(fam, col), mapping),
            f"ordinal quality of the {concept}",
            item,
            concept,
        )
        dummies(b, fam, col, specs[col].codes, item, concept)


def _water_and_sanitation(b: Block, fam: pd.DataFrame, specs: dict) -> None:
    """Drinking water, toilet and sewage, with the BPS definitions of improved (306, 309-310)."""
    water = codes(fam, "drinking_water")
    b.add(
        "improved_water",
        np.isin(water, IMPROVED_WATER),
        "improved drinking water source (BPS definition)",
        "306a",
        "drinking water (306)",
    )
    dummies(b, fam, "drinking_water", specs["drinking_water"].codes, "306a", "drinking water (306)")
    toilet, sewage = codes(fam, "toilet_facility"), codes(fam, "sewage_disposal")
    b.add(
        "improved_sanitation",
        np.isin(toilet, [1, 2, 3]) & np.isin(sewage, [1, 2]),
        "improved sanitation: own/shared/communal toilet with septic tank or treatment (BPS)",
        "309a/310",
        "sanitation (309-310)",
    )
    dummies(b, fam, "toilet_facility", specs["toilet_facility"].codes, "309a", "sanitation (309-310)")
    dummies(b, fam, "sewage_disposal", specs["sewage_disposal"].codes, "310", "sanitation (309-310)")


def _energy(b: Block, fam: pd.DataFrame, specs: dict) -> None:
    """Lighting, the PLN connection and the cooking fuel (307-308)."""
    dummies(b, fam, "lighting", specs["lighting"].codes, "307a", "electricity (307)")
    va = np.nan_to_num(codes(fam, "electricity_va"), nan=0.0)
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
    fuel = codes(fam, "cooking_fuel")
    for name, group in FUEL_GROUPS.items():
        b.add(
            f"cooking_fuel_{name}",
            np.isin(fuel, group),
            f"cooks with {name.replace('_', ' ')}",
            "308",
            "cooking fuel (308)",
        )
