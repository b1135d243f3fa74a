"""Nested BPS-style regions with urban shares, price levels and area effects."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

# BPS province codes with rough population weights and a regional dwelling-material tendency
# (1 where wooden houses are common: Sumatra's east, Kalimantan, Sulawesi, Maluku, Papua).
_PROVINCES = pd.DataFrame(
    {
        "code": [
            "11",
            "12",
            "13",
            "14",
            "15",
            "16",
            "17",
            "18",
            "19",
            "21",
            "31",
            "32",
            "33",
            "34",
            "35",
            "36",
            "51",
            "52",
            "53",
            "61",
            "62",
            "63",
            "64",
            "65",
            "71",
            "72",
            "73",
            "74",
            "75",
            "76",
            "81",
            "82",
            "91",
            "94",
        ],
        "weight": [
            5.4,
            15.4,
            5.6,
            6.6,
            3.7,
            8.7,
            2.1,
            9.3,
            1.5,
            2.2,
            10.7,
            50.3,
            37.9,
            3.7,
            41.6,
            12.3,
            4.4,
            5.6,
            5.6,
            5.5,
            2.8,
            4.2,
            3.9,
            0.7,
            2.7,
            3.1,
            9.4,
            2.7,
            1.2,
            1.5,
            1.9,
            1.3,
            1.1,
            4.4,
        ],
        "urban_share": [
            0.32,
            0.54,
            0.48,
            0.40,
            0.37,
            0.38,
            0.33,
            0.33,
            0.45,
            0.83,
            1.0,
            0.78,
            0.53,
            0.70,
            0.57,
            0.70,
            0.68,
            0.47,
            0.23,
            0.36,
            0.38,
            0.47,
            0.71,
            0.55,
            0.53,
            0.27,
            0.43,
            0.28,
            0.33,
            0.23,
            0.42,
            0.31,
            0.29,
            0.28,
        ],
        "wooden": [
            0,
            0,
            0,
            1,
            1,
            1,
            0,
            0,
            1,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
        ],
    }
)


def make_regions(
    n_families: int, rng: np.random.Generator, families_per_village: int = 250, urban_share: float = 0.58
) -> pd.DataFrame:
    """Villages with their district, regency and province codes and area characteristics.

    Returns one row per village: codes, ``urban``, ``price_index`` (regency price level relative to
    the national poverty line), ``area_effect`` (log-consumption effect of province, regency and
    village), ``wooden`` (regional building tradition), ``remote`` and ``size_weight``.
    """
    n_villages = int(np.clip(n_families / families_per_village, 24, 120_000))
    r = _regencies(n_villages, rng)
    return _villages(r, n_villages, urban_share, rng)


def _regencies(n_villages: int, rng: np.random.Generator) -> dict:
    """Provinces drawn by population, and their regencies (cities from code 71) with their effects."""
    n_regencies = int(np.clip(n_villages / 25, 12, 514))
    n_provinces = int(np.clip(n_regencies / 4, 3, len(_PROVINCES)))
    weight = _PROVINCES.weight.to_numpy()
    pick = rng.choice(len(_PROVINCES), n_provinces, replace=False, p=weight / weight.sum())
    prov = _PROVINCES.iloc[np.sort(pick)].reset_index(drop=True)
    prov_effect = rng.normal(0, 0.12, n_provinces)

    # regencies: at least one per province, the rest by population weight
    reg_prov = np.concatenate(
        [np.arange(n_provinces), rng.choice(n_provinces, n_regencies - n_provinces, p=prov.weight / prov.weight.sum())]
    )
    reg_prov.sort()
    is_city = rng.random(n_regencies) < 0.2
    reg_no = pd.Series(reg_prov).groupby([reg_prov, is_city]).cumcount().to_numpy()
    reg_code = np.where(is_city, 71 + reg_no, 1 + reg_no)  # BPS: cities (kota) from 71
    regency_code = prov.code.to_numpy()[reg_prov] + pd.Series(reg_code).map("{:02d}".format).to_numpy()
    reg_effect = prov_effect[reg_prov] + rng.normal(0, 0.12, n_regencies) + 0.12 * is_city
    price_index = np.exp(rng.normal(0, 0.08, n_regencies) + 0.05 * is_city)
    reg_urban = np.where(
        is_city,
        0.95,
        np.clip(prov.urban_share.to_numpy()[reg_prov] + 0.05 + rng.normal(0, 0.1, n_regencies), 0.02, 0.95),
    )

    return {
        "prov": prov,
        "reg_prov": reg_prov,
        "regency_code": regency_code,
        "reg_effect": reg_effect,
        "price_index": price_index,
        "reg_urban": reg_urban,
    }


def _villages(r: dict, n_villages: int, urban_share: float, rng: np.random.Generator) -> pd.DataFrame:
    """Districts (~8 villages each) and villages, the most urban-leaning of them urban."""
    prov, reg_prov, regency_code, reg_urban = r["prov"], r["reg_prov"], r["regency_code"], r["reg_urban"]
    n_regencies = len(regency_code)
    n_districts = max(n_regencies, n_villages // 8)
    dis_reg = np.concatenate([np.arange(n_regencies), rng.choice(n_regencies, n_districts - n_regencies)])
    dis_reg.sort()
    dis_no = pd.Series(dis_reg).groupby(dis_reg).cumcount().to_numpy()
    district_code = regency_code[dis_reg] + pd.Series(10 * (dis_no + 1)).map("{:03d}".format).to_numpy()
    dis_effect = rng.normal(0, 0.08, n_districts)
    vil_dis = np.concatenate([np.arange(n_districts), rng.choice(n_districts, n_villages - n_districts)])
    vil_dis.sort()
    vil_no = pd.Series(vil_dis).groupby(vil_dis).cumcount().to_numpy()
    vil_reg = dis_reg[vil_dis]
    # urban villages: the most urban-leaning, until they hold ``urban_share`` of families (BPS 2025: ~58%)
    size_weight = rng.lognormal(0, 0.5, n_villages)
    lean = np.log(reg_urban[vil_reg] / (1 - reg_urban[vil_reg])) + rng.logistic(0, 1, n_villages)
    order = np.argsort(-lean)
    urban = np.zeros(n_villages, dtype=bool)
    urban[order[: np.searchsorted(np.cumsum(size_weight[order]) / size_weight.sum(), urban_share) + 1]] = True
    village_code = district_code[vil_dis] + pd.Series(vil_no + 1).map("{:03d}".format).to_numpy()
    remote = (~urban) & (rng.random(n_villages) < 0.15)
    return pd.DataFrame(
        {
            "province_code": prov.code.to_numpy()[reg_prov[vil_reg]],
            "regency_code": regency_code[vil_reg],
            "district_code": district_code[vil_dis],
            "village_code": village_code,
            "urban": urban,
            "remote": remote,
            "wooden": prov.wooden.to_numpy()[reg_prov[vil_reg]].astype(bool),
            "price_index": r["price_index"][vil_reg],
            "area_effect": r["reg_effect"][vil_reg]
            + dis_effect[vil_dis]
            + rng.normal(0, 0.10, n_villages)
            - 0.15 * remote,
            "size_weight": size_weight,
        }
    )


# BPS province names by code (the two-digit codes the synthetic regions draw from)
PROVINCE_NAMES = {
    "11": "Aceh", "12": "Sumatera Utara", "13": "Sumatera Barat", "14": "Riau", "15": "Jambi",
    "16": "Sumatera Selatan", "17": "Bengkulu", "18": "Lampung", "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau", "31": "DKI Jakarta", "32": "Jawa Barat", "33": "Jawa Tengah", "34": "DI Yogyakarta",
    "35": "Jawa Timur", "36": "Banten", "51": "Bali", "52": "Nusa Tenggara Barat", "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat", "62": "Kalimantan Tengah", "63": "Kalimantan Selatan", "64": "Kalimantan Timur",
    "65": "Kalimantan Utara", "71": "Sulawesi Utara", "72": "Sulawesi Tengah", "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara", "75": "Gorontalo", "76": "Sulawesi Barat", "81": "Maluku", "82": "Maluku Utara",
    "91": "Papua Barat", "94": "Papua",
}  # fmt: skip
_HEADS = ("Suka", "Sumber", "Karang", "Tanjung", "Mekar", "Cipta", "Mulya", "Sari", "Harja", "Banyu", "Wana",
          "Tirta", "Giri", "Jati", "Pasir", "Rawa", "Bukit", "Pondok", "Lubuk", "Teluk")  # fmt: skip
_TAILS = ("maju", "jaya", "sari", "makmur", "mulya", "rahayu", "asih", "wangi", "agung", "indah", "harapan",
          "baru", "tengah", "raya", "lestari", "damai")  # fmt: skip


def _made_up_name(code: str) -> str:
    """A place name built from the code alone (the same code, the same name, in every registry)."""
    h = int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big")
    return _HEADS[h % len(_HEADS)] + _TAILS[(h // len(_HEADS)) % len(_TAILS)]


def region_names(v: pd.DataFrame) -> pd.DataFrame:
    """Names of each row's province, regency (Kabupaten, or Kota from code 71), district and village,
    as a registry export spells them beside the codes (contract version 3)."""
    out = {}
    for level in ("regency", "district", "village"):
        codes = v[f"{level}_code"].astype(str)
        names = {c: _made_up_name(c) for c in codes.unique()}
        if level == "regency":
            names = {c: ("Kota " if int(c[2:]) >= 71 else "Kabupaten ") + n for c, n in names.items()}
        out[f"{level}_name"] = codes.map(names).to_numpy()
    province = v["province_code"].astype(str).map(PROVINCE_NAMES).to_numpy()
    return pd.DataFrame({"province_name": province, **out}, index=v.index)
