"""Records of other registries about the synthetic people, with the imperfections of real extracts.

Each source reflects the family's true welfare today, which the registry's questionnaire shows only
through a stale and noisy proxy: wage reports, civil-service rolls, cars, power connections and
companies are likelier the better off the family really is. Deaths since the registry round remove
members the registry still lists. Many records are about people who are not in the registry at all,
some of them namesakes of members (same name, sex and regency, another birth date and NIK).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.keys import nik_birth_date
from ._identity import make_names, make_niks

_VA_STEPS = np.array([450, 900, 1300, 2200, 3500, 5500])
_TITLES = np.array(["H. ", "Hj. ", "Drs. ", "Ir. "])
_SUFFIXES = np.array([", S.Pd", ", S.E.", ", S.Kom", ", A.Md"])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def deaths_since_registry(ages: np.ndarray, rate_elderly: float, rng) -> np.ndarray:
    """Members who died after the registry round (the registry still lists them)."""
    rate = np.where(ages >= 70, rate_elderly, np.where(ages >= 50, rate_elderly / 6, rate_elderly / 40))
    return rng.random(len(ages)) < rate


def _person_records(mem: pd.DataFrame, fam: pd.DataFrame, r: np.ndarray, died: np.ndarray, rng) -> pd.DataFrame:
    """Records about members: which source holds one, and its value."""
    fi = mem["fam"].to_numpy()
    rm, age = r[fi], mem["age"].to_numpy()
    adult = (age >= 18) & (age <= 64)
    civil_visible = ((mem["work_sector"] == 16) & (mem["employment_status"] == 4)).to_numpy()
    employee = (mem["employment_status"] == 4).to_numpy()
    head = (mem["relationship"] == 1).to_numpy()
    u = lambda: rng.random(len(mem))  # noqa: E731
    monthly = (fam["consumption"].to_numpy() * fam["n_members"].to_numpy())[fi]
    holds = {
        "civil_servant": (civil_visible & (u() < 0.95)) | (adult & (u() < 0.05 * _sigmoid((rm - 0.75) / 0.08))),
        "formal_wage": adult & ~civil_visible & ((employee & (u() < 0.45)) | (u() < 0.12 * _sigmoid((rm - 0.6) / 0.1))),
        "low_wage": adult & (rm < 0.35) & (u() < 0.03),  # contract workers paid little, still "formal"
        "vehicle": adult & head & (u() < 0.10 * _sigmoid((rm - 0.7) / 0.08)),
        "business": adult & (u() < 0.03 * _sigmoid((rm - 0.8) / 0.08) + 0.003),
        "gambling": adult & (u() < 0.008 + 0.012 * rm),
        "death": died & (u() < 0.92),
    }
    values = {
        "formal_wage": 0.8 * monthly * np.exp(rng.normal(0, 0.4, len(mem))),
        "low_wage": rng.uniform(100_000, 900_000, len(mem)),
        "vehicle": 1.0 + (u() < 0.2),
        "gambling": np.round(np.exp(rng.normal(14, 1.5, len(mem))), -3),
    }
    parts = []
    for source, mask in holds.items():
        rows = np.flatnonzero(mask)
        value = values.get(source, np.full(len(mem), np.nan))[rows]
        parts.append(
            pd.DataFrame({"source": "formal_wage" if source == "low_wage" else source, "row": rows, "value": value})
        )
    return pd.concat(parts, ignore_index=True)


def _family_records(mem: pd.DataFrame, fam: pd.DataFrame, r: np.ndarray, rng) -> pd.DataFrame:
    """Records held about a family's head: the power connection today, cars, a dormant KKS account."""
    heads = np.flatnonzero((mem["relationship"] == 1).to_numpy())
    fi = mem["fam"].to_numpy()[heads]
    rh = r[fi]
    u = lambda: rng.random(len(heads))  # noqa: E731
    va = fam["electricity_va"].to_numpy(dtype="float64", na_value=np.nan)[fi]
    metered = ~np.isnan(va)
    step = np.searchsorted(_VA_STEPS, np.nan_to_num(va, nan=450))
    upgraded = metered & (u() < 0.35 * _sigmoid((rh - 0.6) / 0.1))
    va_now = np.where(upgraded, _VA_STEPS[np.minimum(step + 1 + (u() < 0.3), len(_VA_STEPS) - 1)], va)
    unlisted = ~metered & (u() < 0.3 * _sigmoid((rh - 0.6) / 0.1))  # a meter the questionnaire missed
    va_now = np.where(unlisted, 1300.0, va_now)
    has_car = fam["has_car"].to_numpy(dtype=bool)[fi]
    dormant = fam["receives_pkh"].to_numpy(dtype=bool)[fi] & (u() < 0.04 + 0.25 * _sigmoid((rh - 0.6) / 0.1))
    return pd.concat(
        [
            pd.DataFrame({"source": "electricity", "row": heads, "value": va_now})[(metered & (u() < 0.9)) | unlisted],
            pd.DataFrame({"source": "vehicle", "row": heads, "value": 1.0 + (u() < 0.15)})[has_car & (u() < 0.85)],
            pd.DataFrame({"source": "dormant_account", "row": heads, "value": rng.integers(3, 13, len(heads)) * 1.0})[
                dormant
            ],
        ],
        ignore_index=True,
    )


def _misspell(names: pd.Series, rng) -> pd.Series:
    """Names as another registry spells them: a letter changed, an initial, a title, upper case."""
    n = len(names)
    u = rng.random(n)
    out = names.copy()
    typo = u < 0.15
    pos = (rng.random(n) * names.str.len().to_numpy()).astype(int)
    letters = np.array(list("AEIOUNRSTY"))[rng.integers(0, 10, n)]
    out[typo] = [s[:p] + c + s[p + 1 :] for s, p, c in zip(names[typo], pos[typo], letters[typo])]
    initial = (u >= 0.15) & (u < 0.22)
    first, rest = names.str.split(" ", n=1).str[0], names.str.split(" ", n=1).str[1].fillna("")
    out[initial] = (first.str[0] + ". " + rest)[initial]
    titled = (u >= 0.22) & (u < 0.27)
    out[titled] = (_TITLES[rng.integers(0, 4, n)] + names)[titled]
    suffixed = (u >= 0.27) & (u < 0.30)
    out[suffixed] = (names + _SUFFIXES[rng.integers(0, 4, n)])[suffixed]
    upper = rng.random(n) < 0.5
    out[upper] = out[upper].str.upper()
    return out.where(rng.random(n) >= 0.03)


def _mistype(nik: pd.Series, rng) -> tuple[pd.Series, np.ndarray]:
    """NIKs as another registry holds them: missing (8%), one digit off (7%), two digits off (3%)."""
    n = len(nik)
    u = rng.random(n)
    kind = np.select(
        [nik.isna().to_numpy() | (u < 0.08), u < 0.15, u < 0.18], ["missing", "one_digit", "two_digits"], "exact"
    )
    out = nik.copy().astype(object)
    for k, n_digits in (("one_digit", 1), ("two_digits", 2)):
        rows = np.flatnonzero(kind == k)
        for i in rows:
            s = list(out.iloc[i])
            for p in rng.choice(16, n_digits, replace=False):
                s[p] = str((int(s[p]) + rng.integers(1, 10)) % 10)
            out.iloc[i] = "".join(s)
    out[kind == "missing"] = None
    return pd.Series(out, dtype="string"), kind


def registry_records(mem: pd.DataFrame, fam: pd.DataFrame, died: np.ndarray, ref, seed: int, regencies):
    """``registry_records`` (evidence contract) and the truth of each record's link.

    ``mem`` holds the members with their family position ``fam``; ``fam`` the families with true
    ``consumption`` per capita and its ``rank`` (0 poorest, 1 richest).
    """
    rng = np.random.default_rng([seed, 13])
    r = fam["rank"].to_numpy()
    recs = pd.concat([_person_records(mem, fam, r, died, rng), _family_records(mem, fam, r, rng)], ignore_index=True)
    person = mem.iloc[recs["row"].to_numpy()].reset_index(drop=True)
    nik, nik_kind = _mistype(person["nik"].reset_index(drop=True), rng)
    birth = pd.Series(nik_birth_date(person["nik"], person["age"], ref))
    no_birth = birth.isna().to_numpy()
    birth[no_birth] = pd.Timestamp(ref) - pd.to_timedelta((person["age"].to_numpy()[no_birth] + 0.5) * 365.25, unit="D")
    swap = (rng.random(len(birth)) < 0.04) & (birth.dt.day <= 12).to_numpy()
    birth[swap] = pd.to_datetime(
        pd.DataFrame({"year": birth[swap].dt.year, "month": birth[swap].dt.day, "day": birth[swap].dt.month})
    )
    birth = birth.where(rng.random(len(birth)) >= 0.04)
    regency = pd.Series(fam["regency_code"].to_numpy()[person["fam"].to_numpy()], dtype="string")
    moved = rng.random(len(regency)) < 0.06
    regency[moved] = regencies[rng.integers(0, len(regencies), moved.sum())]
    linked = pd.DataFrame(
        {
            "source": recs["source"],
            "nik": nik,
            "full_name": _misspell(person["name"].astype("string").reset_index(drop=True), rng),
            "birth_date": birth.dt.normalize(),
            "sex": pd.Series(person["sex"].to_numpy(), dtype="Int64").where(rng.random(len(recs)) >= 0.03),
            "regency_code": regency.where(rng.random(len(recs)) >= 0.02),
            "value": recs["value"],
            "family_id": pd.Series(person["family_id"].to_numpy(), dtype="string"),
            "member_no": pd.Series(person["member_no"].to_numpy(), dtype="Int64"),
            "kind": np.where(nik_kind == "exact", "exact_nik", "nik_" + nik_kind),
        }
    )
    strangers = _strangers(mem, fam, len(linked), regencies, ref, rng)
    out = pd.concat([linked, strangers], ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    out.insert(1, "record_id", pd.array([f"R{seed}-{i:08d}" for i in range(len(out))], dtype="string"))
    as_of = (pd.Timestamp(ref) - pd.to_timedelta(rng.integers(0, 365, len(out)), unit="D")).normalize()
    out["as_of"] = as_of.where(~(out["birth_date"] > as_of).to_numpy(), out["birth_date"])  # never before the birth
    truth = out[["source", "record_id", "family_id", "member_no", "kind"]].astype(
        {"source": "string", "kind": "string"}
    )
    records = out.drop(columns=["family_id", "member_no", "kind"]).astype({"source": "string", "value": "float64"})
    return records, truth


def _strangers(mem, fam, n_linked: int, regencies, ref, rng) -> pd.DataFrame:
    """Records about people who are not in the registry; a fifth of them namesakes of members."""
    n = int(0.6 * n_linked)
    sources = np.array(["civil_servant", "formal_wage", "electricity", "vehicle", "business", "death", "gambling"])
    source = sources[rng.choice(len(sources), n, p=[0.12, 0.4, 0.2, 0.12, 0.06, 0.05, 0.05])]
    sex = rng.integers(1, 3, n)
    age = rng.integers(18, 80, n)
    reg = regencies[rng.integers(0, len(regencies), n)]
    district = pd.Series(reg).str.cat(pd.Series(rng.integers(1, 30, n)).map("{:02d}".format)).to_numpy()
    nik = pd.Series(make_niks(district, age, sex, ref, rng), dtype="string").str.slice(0, 12) + pd.Series(
        rng.integers(5000, 9999, n)
    ).astype(str)
    name = pd.Series(make_names(sex, rng), dtype="string")
    namesake = rng.random(n) < 0.2
    twin = rng.integers(0, len(mem), n)
    name[namesake] = mem["name"].to_numpy()[twin[namesake]]
    sex[namesake] = mem["sex"].to_numpy()[twin[namesake]]
    reg[namesake] = fam["regency_code"].to_numpy()[mem["fam"].to_numpy()[twin[namesake]]]
    value = np.where(source == "formal_wage", np.exp(rng.normal(15.2, 0.5, n)), np.nan)
    value = np.where(source == "electricity", _VA_STEPS[rng.integers(1, 6, n)], value)
    value = np.where(source == "vehicle", 1.0, value)
    return pd.DataFrame(
        {
            "source": source,
            "nik": nik.where(rng.random(n) >= 0.1),
            "full_name": name.str.upper().where(rng.random(n) < 0.5, name),
            "birth_date": pd.Series(nik_birth_date(nik, age, ref)),
            "sex": pd.Series(sex, dtype="Int64"),
            "regency_code": pd.Series(reg, dtype="string"),
            "value": value,
            "family_id": pd.Series(pd.NA, index=range(n), dtype="string"),
            "member_no": pd.Series(pd.NA, index=range(n), dtype="Int64"),
            "kind": np.where(namesake, "namesake", "stranger"),
        }
    )
