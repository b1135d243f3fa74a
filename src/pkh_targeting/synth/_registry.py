"""`generate_registry`: a synthetic DTSEN-like registry with the truth known."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..records.contract import load_contract
from ..rules import apply_rules, load_rules
from ._dwelling import make_dwelling
from ._identity import DEFECTS, inject_defects, make_addresses, make_names, make_niks
from ._people import make_composition, make_members
from ._programme import assign_beneficiaries, outcome_samples
from ._regions import make_regions

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

    def write(self, out_dir) -> Path:
        """Write ``families.parquet``, ``members.parquet`` and ``truth.parquet`` to ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("families", "members", "truth"):
            getattr(self, name).to_parquet(out / f"{name}.parquet", index=False)
        return out


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
    coverage: float = 0.235,
    welfare_change_sd: float = 0.45,
    pmt_noise_sd: float = 0.6,
    discretion_share: float = 0.12,
    capture_rate: float = 0.25,
    graduation_processed: float = 0.5,
    verification_share: float = 0.25,
    complaint_rate: float = 0.03,
    audit_share: float = 0.01,
    field_error_rate: float = 0.05,
    survey_share: float = 0.04,
    defect_rate: float = 0.0,
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
    coverage : float, default=0.235
        Beneficiary quota as a share of families.
    welfare_change_sd : float, default=0.45
        How much welfare changed since the ranking that chose beneficiaries (latent SD units).
    pmt_noise_sd : float, default=0.6
        Error of that earlier proxy-means ranking.
    discretion_share, capture_rate, graduation_processed : float
        Share of slots re-assigned by village officials; chance that a connected family gets in;
        chance that a beneficiary without components is graduated.
    verification_share, complaint_rate, audit_share, field_error_rate : float
        Field verification: share of beneficiaries verified, complaint rate of non-beneficiaries
        (three times higher when eligible), random audit share, and misjudgement rate.
    survey_share : float, default=0.04
        Random share of families with measured consumption.
    defect_rate : float, default=0.0
        Share of families with an injected data-quality defect (listed in ``truth.defect``).

    Returns
    -------
    Registry
        ``.families``, ``.members`` (data contract) and ``.truth`` (one row per family).
    """
    rng = np.random.default_rng(seed)
    ref = pd.Timestamp(reference_date or dt.date.today()).date()
    rules = load_rules(rules)
    poverty_rate = {**POVERTY_RATE, **(poverty_rate or {})}
    gini = {**GINI, **(gini or {})}

    villages = make_regions(n_families, rng if regions_seed is None else np.random.default_rng([regions_seed, 7]))
    vil = rng.choice(len(villages), n_families, p=villages.size_weight / villages.size_weight.sum())
    vil.sort()
    v = villages.iloc[vil].reset_index(drop=True)
    urban = v.urban.to_numpy()
    w = rng.normal(0, 1, n_families)

    comp = make_composition(w, urban, rng)
    mem = make_members(comp, w, urban, rng)
    fam_idx = mem.fam.to_numpy()
    size = comp.n_members.to_numpy()
    adults = mem.age.to_numpy() >= 15
    workers = np.bincount(fam_idx, weights=mem.worked_last_week.to_numpy(), minlength=n_families)
    civil = (
        np.bincount(
            fam_idx, weights=((mem.work_sector == 16) & (mem.employment_status == 4)).to_numpy(), minlength=n_families
        )
        > 0
    )
    head = mem.relationship.to_numpy() == 1
    head_edu = np.zeros(n_families)
    head_edu[fam_idx[head]] = mem.education.to_numpy()[head]
    n_adults = np.bincount(fam_idx, weights=adults, minlength=n_families)

    # consumption: welfare latent, area, household size and workers, plus a transitory shock
    log_c = (
        0.62 * w
        + v.area_effect.to_numpy()
        + 0.18 * urban
        - 0.12 * np.log(size)
        + 0.25 * workers / size
        + 0.10 * np.log1p(n_adults)
        + rng.normal(0, 0.38, n_families)
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

    # dwelling and assets: welfare through a noisy asset latent with a life-cycle effect
    al = w + 0.012 * (comp.head_age.to_numpy() - 45) + rng.normal(0, 0.55, n_families)
    dwell = make_dwelling(
        al,
        size,
        urban,
        v.wooden.to_numpy(),
        v.remote.to_numpy(),
        v.province_code.to_numpy(),
        comp.head_age.to_numpy(),
        rng,
    )

    family_id = pd.Series(np.arange(n_families)).map(
        lambda i: f"F{seed:03d}{i:08d}" if seed < 1000 else f"F{seed}-{i:08d}"
    )
    family_id = family_id.to_numpy()
    mem.insert(0, "family_id", family_id[fam_idx])
    fam = pd.DataFrame({"family_id": family_id})
    comps = apply_rules(fam, mem, rules)
    has_comp = comps.has_component.to_numpy()
    eligible = (desil <= rules.desil_cutoff) & has_comp
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
    prog = assign_beneficiaries(
        pd.DataFrame(
            {
                "w": w,
                "regency": v.regency_code.to_numpy(),
                "village": v.village_code.to_numpy(),
                "urban": urban,
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
        ),
        rng,
        coverage=coverage,
        welfare_change_sd=welfare_change_sd,
        pmt_noise_sd=pmt_noise_sd,
        discretion_share=discretion_share,
        capture_rate=capture_rate,
        graduation_processed=graduation_processed,
        desil_cutoff=rules.desil_cutoff,
    )
    receives = prog.receives_pkh.to_numpy()
    verified, outcome, surveyed, why_verified = outcome_samples(
        receives,
        eligible,
        rng,
        verification_share_beneficiaries=verification_share,
        complaint_rate=complaint_rate,
        audit_share=audit_share,
        field_error_rate=field_error_rate,
        survey_share=survey_share,
    )

    # health insurance (family-level scheme): PBI from the earlier round, employer JKN for formal workers
    employee = np.bincount(fam_idx, weights=(mem.employment_status == 4).to_numpy(), minlength=n_families) > 0
    u = rng.random(n_families)
    scheme = np.select(
        [prog.pbi_old.to_numpy(), employee & (u < 0.7), u < 0.25 + 0.2 * (w > 0.5)], [1, 4, 2], default=0
    )
    scheme = np.where((scheme == 0) & (rng.random(n_families) < 0.02), 8, scheme)
    mem["health_insurance"] = scheme[fam_idx]

    mem["nik"] = make_niks(v.district_code.to_numpy()[fam_idx], ages, mem.sex.to_numpy(), ref, rng)
    no_nik = (ages == 0) & (rng.random(len(mem)) < 0.3)
    mem["nik"] = pd.Series(mem["nik"], dtype="string").where(~no_nik)
    heads = mem[head]
    head_names = make_names(heads.sex.to_numpy(), rng)
    # members' names from a stream of their own, so that adding them changed no other draw; the head's
    # name is the family's head_name
    mem["name"] = make_names(mem.sex.to_numpy(), np.random.default_rng([seed, 11]))
    mem.loc[head, "name"] = head_names
    families = pd.concat(
        [
            pd.DataFrame(
                {
                    "family_id": family_id,
                    "head_name": head_names,
                    "address": make_addresses(n_families, rng),
                    "province_code": v.province_code,
                    "regency_code": v.regency_code,
                    "district_code": v.district_code,
                    "village_code": v.village_code,
                    "urban": urban,
                    "n_members": size,
                }
            ),
            dwell,
            pd.DataFrame(
                {
                    "receives_pkh": receives,
                    "receives_sembako": prog.sembako.to_numpy(),
                    "verified_eligible": pd.Series(outcome, dtype="boolean").where(verified).array,
                    "consumption_per_capita": np.where(surveyed, consumption, np.nan),
                }
            ),
        ],
        axis=1,
    )
    contract = load_contract()
    families = families[list(contract["families"].columns)].astype(
        {c: "string" for c, spec in contract["families"].columns.items() if spec.dtype == "string"}
    )
    members = mem[list(contract["members"].columns)].astype({"family_id": "string"}).reset_index(drop=True)

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
    defect = inject_defects(families, members, defect_rate, rng)
    truth["defect"] = pd.array(defect.to_numpy(), dtype="string")
    truth["defect_rule"] = pd.array(defect.map(DEFECTS).to_numpy(), dtype="string")
    return Registry(families, members, truth, ref, seed)
