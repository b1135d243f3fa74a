"""`generate_registry`: a synthetic DTSEN-like registry with the truth known."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..records.contract import load_contract
from ..rules import apply_rules, load_rules
from ._dwelling import make_dwelling
from ._evidence import deaths_since_registry, registry_records
from ._identity import DEFECTS, inject_defects, make_addresses, make_names, make_niks
from ._people import make_composition, make_members
from ._programme import Mechanisms, assign_beneficiaries, outcome_samples
from ._regions import make_regions, region_names
from ._reports import community_reports
from ._rounds import next_round

# BPS, Susenas March 2025 (shared DOMAIN.md)
POVERTY_LINE = {"urban": 629_561, "rural": 580_349}
POVERTY_RATE = {"urban": 0.0673, "rural": 0.1103}
GINI = {"urban": 0.395, "rural": 0.299}


@dataclass
class Registry:
    """A synthetic registry: contract tables plus the truth behind them."""

    families: pd.DataFrame
    members: pd.DataFrame
    truth: pd.DataFrame
    reference_date: dt.date
    seed: int
    registry_records: pd.DataFrame | None = None
    record_truth: pd.DataFrame | None = None
    community_reports: pd.DataFrame | None = None
    report_truth: pd.DataFrame | None = None
    member_truth: pd.DataFrame | None = None  # every true member (registered or not), with ``died``
    round: int = 0  # quarters since the registry was generated

    def next_round(self, decisions=None, *, apply_share: float = 0.7, rules="pkh-2025") -> Registry:
        """The same families a quarter later: births, deaths, ages, consumption shocks, moves, new
        reports and Dukcapil records; the registry applies ``apply_share`` of the office's
        ``decisions`` (``family_id, decision``: remove or add) and lags behind the rest (see
        `pkh_targeting.synth._rounds`)."""
        return replace(self, **next_round(self, decisions, apply_share=apply_share, rules=rules))

    def write(self, out_dir) -> Path:
        """Write ``families.parquet``, ``members.parquet``, ``registry_records.parquet`` and
        ``community_reports.parquet`` (evidence contract) and the truth (``truth.parquet``,
        ``record_truth.parquet``, ``report_truth.parquet``, ``member_truth.parquet``) to ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        evidence = ("registry_records", "record_truth", "community_reports", "report_truth", "member_truth")
        for name in ("families", "members", "truth", *evidence):
            if getattr(self, name) is not None:
                getattr(self, name).to_parquet(out / f"{name}.parquet", index=False)
        about = {"reference_date": self.reference_date.isoformat(), "seed": self.seed, "round": self.round}
        (out / "registry.json").write_text(json.dumps(about))
        return out

    @classmethod
    def read(cls, folder) -> Registry:
        """A registry written by `write` (its ``registry.json`` says the date, seed and round)."""
        folder = Path(folder)
        about = json.loads((folder / "registry.json").read_text())
        tables = {
            name: pd.read_parquet(folder / f"{name}.parquet") if (folder / f"{name}.parquet").is_file() else None
            for name in ("families", "members", "truth", "registry_records", "record_truth", "community_reports",
                         "report_truth", "member_truth")
        }  # fmt: skip
        ref = dt.date.fromisoformat(about["reference_date"])
        return cls(**tables, reference_date=ref, seed=about["seed"], round=about["round"])


def _gini_sigma(gini: float) -> float:
    """Log-normal sigma with the given Gini coefficient."""
    return float(np.sqrt(2) * norm.ppf((gini + 1) / 2))


def _weighted_quantile(x, w, q):
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return x[order][np.searchsorted(cw, q * cw[-1])]


def generate_registry(
    n_families: int,
    seed: int = 0,
    *,
    regions_seed: int | None = None,
    reference_date=None,
    rules="pkh-2025",
    poverty_rate: dict | None = None,
    gini: dict | None = None,
    defect_rate: float = 0.0,
    **mechanisms,
) -> Registry:
    """Generate a synthetic registry that behaves like DTSEN, with known targeting errors.

    Welfare is a latent family trait; consumption, dwelling, assets, schooling and work follow from it
    with noise, so a proxy-means OLS explains about half the variance of log consumption. Consumption
    is calibrated per urban/rural area to BPS poverty rates and Gini coefficients (person-weighted).
    Beneficiary status comes from an earlier registry round: a stale, noisy proxy-means ranking under
    regency quotas, families never registered, local discretion, capture and unprocessed graduation.

    Parameters
    ----------
    n_families : int
    seed : int, default=0
        Everything is deterministic for a seed and reference date.
    regions_seed : int, optional
        Seed of the regions alone (codes, urban villages, price levels, area effects). Two
        registries with the same ``regions_seed`` and size describe the same country with different
        families, as a later registry round would; by default the regions follow ``seed``.
    reference_date : date, optional
        The date ages and NIK birth dates refer to; today by default.
    rules : str, Path or Rules, default="pkh-2025"
        PKH rules deciding components and eligibility.
    poverty_rate, gini : dict, optional
        Targets per area, ``{"urban": .., "rural": ..}``; BPS March 2025 by default.
    defect_rate : float, default=0.0
        Share of families with an injected data-quality defect (listed in ``truth.defect``).
    **mechanisms
        Fields of `Mechanisms` (coverage, capture, verification, survey...) to change.

    Returns
    -------
    Registry
        ``.families``, ``.members`` (data contract) and ``.truth`` (one row per family).
    """
    m = Mechanisms(**mechanisms)
    rng = np.random.default_rng(seed)
    ref = pd.Timestamp(reference_date or dt.date.today()).date()
    rules = load_rules(rules)
    v = _place_families(n_families, rng, regions_seed)
    urban = v.urban.to_numpy()
    w = rng.normal(0, 1, n_families)

    comp = make_composition(w, urban, rng)
    mem = make_members(comp, w, urban, rng)
    fam_idx = mem.fam.to_numpy()
    size = comp.n_members.to_numpy()
    consumption, line, desil = _consumption(
        w, v, mem, size, {**POVERTY_RATE, **(poverty_rate or {})}, {**GINI, **(gini or {})}, rng
    )
    dwell = _dwelling(w, v, comp, size, rng)

    family_id = np.array([f"F{seed:03d}{i:08d}" if seed < 1000 else f"F{seed}-{i:08d}" for i in range(n_families)])
    mem.insert(0, "family_id", family_id[fam_idx])
    comps = apply_rules(pd.DataFrame({"family_id": family_id}), mem, rules)
    eligible = (desil <= rules.desil_cutoff) & comps.has_component.to_numpy()
    inputs = _programme_inputs(w, v, comp, mem, size, comps, eligible, desil, rng)
    prog = assign_beneficiaries(inputs, rng, m, rules.desil_cutoff)
    receives = prog.receives_pkh.to_numpy()
    died, comps, eligible = _today(mem, family_id, desil, rules, m.death_rate, seed)
    verified, outcome, surveyed, why_verified, reports, report_truth = _outcomes(
        family_id, v.village_code.to_numpy(), receives, eligible, ref, seed, rng, m
    )
    mem["health_insurance"] = _health_insurance(mem, prog, w, rng)[fam_idx]
    head_names = _identities(mem, v, ref, seed, rng)
    status = pd.DataFrame(
        {
            "receives_pkh": receives,
            "receives_sembako": prog.sembako.to_numpy(),
            "verified_eligible": pd.Series(outcome, dtype="boolean").where(verified).array,
            "consumption_per_capita": np.where(surveyed, consumption, np.nan),
        }
    )
    families = _families_table(family_id, head_names, make_addresses(n_families, rng), v, size, [dwell, status])
    members = mem[list(load_contract()["members"].columns)].astype({"family_id": "string"}).reset_index(drop=True)
    truth = _truth(family_id, consumption, line, desil, comps, eligible, prog, verified, why_verified, surveyed)
    truth["n_died"] = np.bincount(fam_idx[died], minlength=n_families)
    truth_of_members = members.assign(died=died)  # before the defects, which only the registry's copy has
    records, record_truth = _records(mem, families, consumption, line, died, ref, seed, v)
    defect = inject_defects(families, members, defect_rate, rng)
    truth["defect"], truth["defect_rule"] = (pd.array(d, dtype="string") for d in (defect, defect.map(DEFECTS)))
    return Registry(families, members, truth, ref, seed, records, record_truth, reports, report_truth, truth_of_members)


def _records(mem, families, consumption, line, died, ref, seed: int, v: pd.DataFrame):
    """Records other registries hold about the people, from the families' true welfare rank."""
    ranked = families.assign(consumption=consumption, rank=pd.Series(consumption / line).rank(pct=True).to_numpy())
    return registry_records(mem, ranked, died, ref, seed, v.regency_code.unique())


def _outcomes(family_id, villages, receives, eligible, ref, seed: int, rng, m: Mechanisms):
    """Verification and survey samples, and community reports (a stream of their own), a share of the
    families they name verified too."""
    verified, outcome, surveyed, why = outcome_samples(receives, eligible, rng, m)
    reports, truth, checked = community_reports(
        family_id, villages, receives, eligible, ref, seed, m.report_check_share
    )
    return verified | checked, outcome, surveyed, np.where(checked & ~verified, "report", why), reports, truth


def _today(mem: pd.DataFrame, family_id, desil, rules, death_rate: float, seed: int):
    """Members who died since the registry round (a stream of their own), the components of the
    living and who is eligible today."""
    died = deaths_since_registry(mem.age.to_numpy(), death_rate, np.random.default_rng([seed, 12]))
    comps = apply_rules(pd.DataFrame({"family_id": family_id}), mem[~died], rules)
    return died, comps, (desil <= rules.desil_cutoff) & comps.has_component.to_numpy()


def _dwelling(w, v: pd.DataFrame, comp: pd.DataFrame, size, rng) -> pd.DataFrame:
    """Dwelling and assets: welfare through a noisy asset latent with a life-cycle effect."""
    al = w + 0.012 * (comp.head_age.to_numpy() - 45) + rng.normal(0, 0.55, len(w))
    return make_dwelling(
        al, size, v.urban.to_numpy(), v.wooden.to_numpy(), v.remote.to_numpy(), v.province_code.to_numpy(),
        comp.head_age.to_numpy(), rng,
    )  # fmt: skip


def _place_families(n_families: int, rng, regions_seed: int | None) -> pd.DataFrame:
    """The village of each family (its region codes and area traits), families in village order."""
    villages = make_regions(n_families, rng if regions_seed is None else np.random.default_rng([regions_seed, 7]))
    vil = rng.choice(len(villages), n_families, p=villages.size_weight / villages.size_weight.sum())
    vil.sort()
    return villages.iloc[vil].reset_index(drop=True)


def _families_table(family_id, head_names, addresses, v: pd.DataFrame, size, rest: list) -> pd.DataFrame:
    """The families table in the contract's columns and dtypes."""
    families = pd.concat(
        [
            pd.DataFrame(
                {
                    "family_id": family_id,
                    "head_name": head_names,
                    "address": addresses,
                    "province_code": v.province_code,
                    "regency_code": v.regency_code,
                    "district_code": v.district_code,
                    "village_code": v.village_code,
                    **region_names(v),
                    "urban": v.urban.to_numpy(),
                    "n_members": size,
                }
            ),
            *rest,
        ],
        axis=1,
    )
    spec = load_contract()["families"].columns
    return families[list(spec)].astype({c: "string" for c, s in spec.items() if s.dtype == "string"})


def _consumption(w, v: pd.DataFrame, mem: pd.DataFrame, size, poverty_rate: dict, gini: dict, rng):
    """Consumption per capita from the welfare latent, area, household size and workers, plus a
    transitory shock, calibrated per area to the poverty rate and Gini; its poverty line and desil."""
    n = len(w)
    urban, fam_idx = v.urban.to_numpy(), mem.fam.to_numpy()
    workers = np.bincount(fam_idx, weights=mem.worked_last_week.to_numpy(), minlength=n)
    n_adults = np.bincount(fam_idx, weights=mem.age.to_numpy() >= 15, minlength=n)
    log_c = (
        0.62 * w
        + v.area_effect.to_numpy()
        + 0.18 * urban
        - 0.12 * np.log(size)
        + 0.25 * workers / size
        + 0.10 * np.log1p(n_adults)
        + rng.normal(0, 0.38, n)
    )
    line = np.where(urban, POVERTY_LINE["urban"], POVERTY_LINE["rural"]) * v.price_index.to_numpy()
    rel = log_c - np.log(line)
    for area, mask in (("urban", urban), ("rural", ~urban)):
        x, wt = rel[mask], size[mask].astype(float)
        mu = np.average(x, weights=wt)
        sd = np.sqrt(np.average((x - mu) ** 2, weights=wt))
        x = (x - mu) / sd * _gini_sigma(gini[area])
        x -= _weighted_quantile(x, wt, poverty_rate[area])  # person-weighted poverty rate hits the target
        rel[mask] = x
    consumption = np.round(np.exp(rel) * line, 0)
    real = np.exp(rel)  # consumption relative to the local poverty line
    desil = np.minimum(np.floor(pd.Series(real).rank(method="first", pct=True).to_numpy() * 10) + 1, 10).astype(int)
    return consumption, line, desil


def _programme_inputs(w, v, comp, mem, size, comps, eligible, desil, rng) -> pd.DataFrame:
    """What `assign_beneficiaries` needs to know of each family."""
    n_families, fam_idx = len(w), mem.fam.to_numpy()
    has_comp = comps.has_component.to_numpy()
    civil = (
        np.bincount(
            fam_idx, weights=((mem.work_sector == 16) & (mem.employment_status == 4)).to_numpy(), minlength=n_families
        )
        > 0
    )
    ages = mem.age.to_numpy()
    young_only = (
        np.bincount(
            fam_idx,
            weights=(ages >= 3) & (ages <= 21) & (mem.school_participation.to_numpy() == 2)
            | ((ages >= 3) & (ages <= 6))
            | (ages >= 70)
            | mem.severe_disability.to_numpy(),
            minlength=n_families,
        )
        == 0
    )
    aged_out = rng.random(n_families) < np.where(
        np.bincount(fam_idx, weights=(ages >= 19) & (ages <= 25), minlength=n_families) > 0, 0.45, 0.08
    )
    elderly_head = comp.head_age.to_numpy() >= 65
    vulnerable = (
        elderly_head
        | (comp.head_female.to_numpy() & ~comp.has_spouse.to_numpy())
        | (np.bincount(fam_idx, weights=mem.severe_disability.to_numpy(), minlength=n_families) > 0)
    )
    return pd.DataFrame(
        {
            "w": w,
            "regency": v.regency_code.to_numpy(),
            "village": v.village_code.to_numpy(),
            "urban": v.urban.to_numpy(),
            "remote": v.remote.to_numpy(),
            "eligible": eligible,
            "has_component": has_comp,
            "only_new_component": has_comp & young_only,
            "aged_out": aged_out,
            "desil": desil,
            "elderly_head": elderly_head,
            "single": size == 1,
            "civil_servant": civil,
            "vulnerable": vulnerable,
        }
    )


def _health_insurance(mem: pd.DataFrame, prog: pd.DataFrame, w, rng) -> np.ndarray:
    """The family's scheme: PBI from the earlier round, employer JKN for formal workers, self-paid."""
    n_families, fam_idx = len(w), mem.fam.to_numpy()
    employee = np.bincount(fam_idx, weights=(mem.employment_status == 4).to_numpy(), minlength=n_families) > 0
    u = rng.random(n_families)
    scheme = np.select(
        [prog.pbi_old.to_numpy(), employee & (u < 0.7), u < 0.25 + 0.2 * (w > 0.5)], [1, 4, 2], default=0
    )
    scheme = np.where((scheme == 0) & (rng.random(n_families) < 0.02), 8, scheme)
    return scheme


def _identities(mem: pd.DataFrame, v: pd.DataFrame, ref, seed: int, rng) -> np.ndarray:
    """Members' NIKs (some infants have none yet) and names; returns the heads' names."""
    fam_idx, ages, head = mem.fam.to_numpy(), mem.age.to_numpy(), mem.relationship.to_numpy() == 1
    mem["nik"] = make_niks(v.district_code.to_numpy()[fam_idx], ages, mem.sex.to_numpy(), ref, rng)
    no_nik = (ages == 0) & (rng.random(len(mem)) < 0.3)
    mem["nik"] = pd.Series(mem["nik"], dtype="string").where(~no_nik)
    head_names = make_names(mem[head].sex.to_numpy(), rng)
    # members' names from a stream of their own, so that adding them changed no other draw; the head's
    # name is the family's head_name
    mem["name"] = make_names(mem.sex.to_numpy(), np.random.default_rng([seed, 11]))
    mem.loc[head, "name"] = head_names
    return head_names


def _truth(family_id, consumption, line, desil, comps, eligible, prog, verified, why_verified, surveyed):
    """What an office never sees: consumption, desil, components, eligibility, errors and why."""
    receives = prog.receives_pkh.to_numpy()
    truth = pd.DataFrame(
        {
            "family_id": pd.array(family_id, dtype="string"),
            "consumption_per_capita": consumption,
            "poverty_line": np.round(line, 0),
            "poor": consumption < line,
            "desil": desil,
        }
    )
    truth = pd.concat([truth, comps.reset_index(drop=True)], axis=1)
    truth["eligible"] = eligible
    truth["receives_pkh"] = receives
    truth["inclusion_error"] = receives & ~eligible
    truth["exclusion_error"] = ~receives & eligible
    truth["error_mechanism"] = pd.array(prog.error_mechanism.to_numpy(), dtype="string")
    truth["registered"] = prog.registered.to_numpy()
    truth["verified"] = verified
    truth["verification_reason"] = pd.array(np.where(verified, why_verified, None), dtype="string")
    truth["surveyed"] = surveyed
    return truth
