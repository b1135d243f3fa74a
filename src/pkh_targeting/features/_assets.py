"""Asset features: each 502 item, land and other house (503), livestock (504), internet (505)."""

from __future__ import annotations

import pandas as pd

from ..records.contract import load_contract
from ._block import Block, dummies

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
    dummies(b, fam, "internet_access", specs["internet_access"].codes, "505", "internet access (505)")
    return b
