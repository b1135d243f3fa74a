"""Dwelling, utilities and assets (items 301-310, 502-506), related to welfare with noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

_JAVA_BALI = ["31", "32", "33", "34", "35", "36", "51"]
_PIG_PROVINCES = ["12", "51", "53", "71", "91", "94"]


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ordered(latent: np.ndarray, codes: list[int], shares: list[float]) -> np.ndarray:
    """Codes ordered from worst to best, assigned by thresholds of a roughly standard-normal latent."""
    cuts = norm.ppf(np.cumsum(shares)[:-1] / np.sum(shares))
    return np.asarray(codes)[np.digitize(latent, cuts)]


def make_dwelling(al, size, urban, wooden, remote, province, head_age, rng) -> pd.DataFrame:
    """Dwelling and asset columns of the families table from the asset latent ``al``."""
    n = len(al)
    e = lambda sd=0.6: rng.normal(0, sd, n)  # noqa: E731
    java = np.isin(province, _JAVA_BALI)
    out = {}
    _structure(out, al, size, urban, wooden, remote, java, head_age, e, rng)
    _utilities(out, al, size, urban, remote, e, rng)
    item = _assets(out, al, size, urban, e, rng)
    _livestock(out, al, urban, province, rng)
    out["internet_access"] = _ordered(1.1 * al + 0.8 * urban + e(0.8), [0, 3, 2, 1], [0.16, 0.64, 0.08, 0.12])
    out["has_bank_account"] = item(0.3, 1.2, 0.6)
    return pd.DataFrame(
        {k: (v if isinstance(v, pd.api.extensions.ExtensionArray) else np.asarray(v)) for k, v in out.items()}
    )


def _structure(out, al, size, urban, wooden, remote, java, head_age, e, rng) -> None:
    """Tenure, floor area and the materials of floor, walls and roof."""
    n = len(al)
    rent = _logistic(-2.2 + 1.3 * urban - 0.045 * (head_age - 40) + 0.2 * al + e(0.5))
    u = rng.random(n)
    out["building_ownership"] = np.select(
        [u < rent, u < rent + 0.07, u < rent + 0.08, u < rent + 0.09], [2, 3, 4, 5], default=1
    )
    area = np.exp(3.65 + 0.22 * al + 0.28 * np.log(size) + 0.15 * ~urban + e(0.35))
    out["floor_area_m2"] = np.round(np.clip(area, 6, 2000), 0)

    ql = 0.85 * al + 0.45 * urban - 0.3 * remote + e(0.55)
    floor = _ordered(ql, [8, 7, 6, 4, 2, 3, 1], [0.05, 0.01, 0.26, 0.06, 0.57, 0.02, 0.03])
    to_wood = wooden & ~urban & np.isin(floor, [6, 4, 2]) & (rng.random(n) < np.where(floor == 6, 0.65, 0.2))
    out["floor_material"] = np.where(to_wood, 5, floor)
    wall = _ordered(
        0.8 * al + 0.4 * urban + e(0.7), [7, 6, 5, 4, 3, 2, 1], [0.005, 0.01, 0.005, 0.03, 0.08, 0.03, 0.84]
    )
    out["wall_material"] = np.where(wooden & (wall == 1) & (rng.random(n) < 0.25 * ~urban), 3, wall)
    roof_q = 0.7 * al + e(0.8)
    roof = np.where(
        java,
        _ordered(roof_q, [7, 5, 3, 4, 2, 1], [0.01, 0.01, 0.04, 0.09, 0.80, 0.05]),
        _ordered(roof_q, [7, 6, 5, 4, 3, 1], [0.03, 0.02, 0.01, 0.07, 0.82, 0.05]),
    )
    out["roof_material"] = roof


def _utilities(out, al, size, urban, remote, e, rng) -> None:
    """Drinking water, lighting and the PLN connection, cooking fuel, toilet and sewage."""
    n = len(al)
    wq = 0.7 * al + 0.5 * urban - 0.5 * remote + e(0.8)
    rural_water = _ordered(
        wq, [9, 8, 6, 10, 7, 5, 4, 3, 2, 1], [0.02, 0.03, 0.04, 0.01, 0.07, 0.22, 0.22, 0.10, 0.25, 0.04]
    )
    urban_water = _ordered(wq, [6, 5, 4, 3, 2, 1], [0.02, 0.06, 0.15, 0.17, 0.48, 0.12])
    out["drinking_water"] = np.where(urban, urban_water, rural_water)

    lq = 1.4 * al + 2.0 * urban - 2.5 * remote + e(0.8)
    out["lighting"] = _ordered(lq, [4, 3, 2, 1], [0.01, 0.02, 0.04, 0.93])
    va = _ordered(0.9 * al + 0.3 * urban + e(0.6), [450, 900, 1300, 2200, 3500], [0.24, 0.46, 0.21, 0.06, 0.03])
    out["electricity_va"] = pd.Series(va, dtype="Int64").where(out["lighting"] == 1).array

    fq = 1.0 * al + 1.2 * urban - 0.8 * remote + e(0.7)
    fuel = _ordered(fq, [10, 7, 9, 4, 2, 3, 1], [0.14, 0.01, 0.01, 0.71, 0.04, 0.06, 0.03])
    no_cook = (size == 1) & urban & (rng.random(n) < 0.35)
    out["cooking_fuel"] = np.where(no_cook, 0, np.where(urban & (fuel == 3) & (rng.random(n) < 0.08), 5, fuel))

    sq = 0.8 * al + 0.6 * urban - 0.4 * remote + e(0.8)
    out["toilet_facility"] = _ordered(sq, [6, 5, 4, 3, 2, 1], [0.05, 0.01, 0.01, 0.02, 0.07, 0.84])
    out["sewage_disposal"] = np.where(
        out["toilet_facility"] == 6,
        np.where(rng.random(n) < 0.5, 5, 3),
        _ordered(sq + e(0.5), [6, 5, 3, 4, 1, 2], [0.005, 0.02, 0.08, 0.12, 0.765, 0.01]),
    )


def _assets(out, al, size, urban, e, rng):
    """Each 502 item and land or another house (503); returns the item draw for the later ones."""
    n = len(al)

    def item(base, slope=1.0, urb=0.0, sd=0.6):
        return rng.random(n) < _logistic(base + slope * al + urb * urban + e(sd))

    out["has_lpg_5kg"] = item(-2.6, 1.2, 0.6)
    out["has_refrigerator"] = item(0.1, 1.3, 0.5)
    out["has_ac"] = item(-3.6, 1.6, 1.2)
    out["has_water_heater"] = item(-4.2, 1.6, 0.8)
    out["has_landline"] = item(-4.0, 1.0, 0.8)
    out["has_flat_tv"] = item(-1.6, 1.4, 0.5)
    out["has_gold_10g"] = item(-1.8, 0.9, 0.0, 1.0)
    out["has_computer"] = item(-2.0, 1.5, 0.8)
    out["has_motorcycle"] = item(1.8, 1.0, 0.2)
    out["has_bicycle"] = item(-0.9, 0.2, -0.2, 0.8)
    out["has_car"] = item(-3.3, 1.6, 0.5)
    coastal = rng.random(n) < 0.08
    out["has_boat"] = coastal & item(-1.5, 0.0, -1.0)
    out["has_motor_boat"] = coastal & item(-1.8, 0.4, -1.0)
    out["has_smartphone"] = item(1.8, 1.2, 0.6) | (size > 3) & item(0.5, 0.5, 0.0)
    out["owns_land"] = item(-0.6, 0.6, -2.0, 0.9)
    out["owns_other_house"] = item(-3.6, 1.1, 0.0)
    return item


def _livestock(out, al, urban, province, rng) -> None:
    """Cattle, buffalo, horses, pigs (where eaten) and goats, rural families only (504)."""
    n = len(al)
    rural = ~urban
    herd = rural & (rng.random(n) < _logistic(-1.4 + 0.3 * al))
    out["n_cattle"] = np.where(herd, rng.poisson(np.exp(0.4 + 0.4 * al).clip(0.2, 20)), 0)
    out["n_buffalo"] = np.where(herd & (rng.random(n) < 0.12), rng.poisson(1.5, n), 0)
    out["n_horse"] = np.where(herd & (rng.random(n) < 0.02), 1 + rng.poisson(0.5, n), 0)
    pigs = rural & np.isin(province, _PIG_PROVINCES) & (rng.random(n) < 0.35)
    out["n_pig"] = np.where(pigs, 1 + rng.poisson(np.exp(0.5 + 0.3 * al).clip(0.2, 20)), 0)
    out["n_goat"] = np.where(rural & (rng.random(n) < _logistic(-1.2 + 0.1 * al)), 1 + rng.poisson(2.5, n), 0)
