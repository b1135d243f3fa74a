"""Family composition and members: ages, relationships, schooling, work, health."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_composition(w: np.ndarray, urban: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Per family: head's age and sex, spouse, and the number of each other kind of member.

    Poorer families (low ``w``) have more children, as in Susenas.
    """
    n = len(w)
    head_age = np.clip(np.round(17 + rng.gamma(4.2, 7.3, n)), 18, 98).astype(np.int64)
    head_female = rng.random(n) < np.clip(0.06 + 0.004 * np.maximum(head_age - 40, 0) + 0.03 * urban, 0, 0.5)
    p_spouse = np.where(head_female, 0.04, np.where(head_age < 65, 0.93, 0.72))
    has_spouse = rng.random(n) < p_spouse
    young = head_age - 18
    life = np.clip(young / 12, 0, 1) * np.clip((72 - head_age) / 20, 0.08, 1)
    lam = 2.25 * life * np.exp(-0.15 * w) * np.where(urban, 0.9, 1.1) * np.where(has_spouse, 1.0, 0.6)
    n_children = np.minimum(rng.poisson(lam), 12)
    n_parents = (rng.random(n) < np.where(head_age < 55, 0.10, 0.02)) * (1 + (rng.random(n) < 0.25))
    n_grandchildren = np.where(head_age >= 48, rng.poisson(0.35 * np.exp(-0.25 * w)), 0)
    n_other = rng.poisson(0.06, n)
    comp = pd.DataFrame(
        {
            "head_age": head_age,
            "head_female": head_female,
            "has_spouse": has_spouse,
            "n_children": n_children,
            "n_parents": n_parents,
            "n_grandchildren": np.minimum(n_grandchildren, 6),
            "n_other": np.minimum(n_other, 3),
        }
    )
    size = 1 + has_spouse + comp.n_children + comp.n_parents + comp.n_grandchildren + comp.n_other
    comp["n_members"] = np.minimum(size, 30).astype(np.int64)
    return comp


def make_members(comp: pd.DataFrame, w: np.ndarray, urban: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """One row per member, in family order with the head first (member_no 1)."""
    fam, rel, member_no = _roster(comp)
    age, sex = _age_and_sex(comp, fam, rel, rng)
    wm, urb = w[fam], urban[fam]
    marital, married_child = _marital_status(comp, fam, rel, age, rng)
    edu, attending, level, participation = _schooling(wm, urb, age, married_child, rng)
    worked, sector, status, disability, chronic, pregnant = _work_and_health(
        edu, wm, urb, rel, sex, age, marital, attending, rng
    )
    return pd.DataFrame(
        {
            "fam": fam,
            "member_no": member_no.astype(np.int64),
            "relationship": rel.astype(np.int64),
            "sex": sex.astype(np.int64),
            "age": age,
            "marital_status": marital.astype(np.int64),
            "pregnant": pregnant,
            "school_participation": participation.astype(np.int64),
            "school_level": pd.Series(level, dtype="Int64").where(attending).array,
            "education": edu.astype(np.int64),
            "worked_last_week": worked,
            "work_sector": sector,
            "employment_status": status,
            "severe_disability": disability,
            "chronic_illness": chronic,
        }
    )


def _roster(comp: pd.DataFrame):
    """Family position, relationship and member number of every member (at most 30 per family)."""
    roles = [
        (1, np.ones(len(comp), np.int64)),
        (2, comp.has_spouse.to_numpy().astype(np.int64)),
        (3, comp.n_children.to_numpy()),
        (6, comp.n_parents.to_numpy()),
        (5, comp.n_grandchildren.to_numpy()),
        (8, comp.n_other.to_numpy()),
    ]
    fam = np.concatenate([np.repeat(np.arange(len(comp)), k) for _, k in roles])
    rel = np.concatenate([np.full(k.sum(), r) for r, k in roles])
    order = np.lexsort((np.concatenate([np.full(k.sum(), i) for i, (_, k) in enumerate(roles)]), fam))
    fam, rel = fam[order], rel[order]
    # families are capped at 30 members: drop extra "other" members beyond that
    member_no = pd.Series(fam).groupby(fam).cumcount().to_numpy() + 1
    keep = member_no <= 30
    return fam[keep], rel[keep], member_no[keep]


def _age_and_sex(comp: pd.DataFrame, fam, rel, rng):
    """Ages from the head's (spouse near it, children and parents a generation away) and sexes."""
    m = len(fam)
    head_age = comp.head_age.to_numpy()[fam]
    head_female = comp.head_female.to_numpy()[fam]
    u = rng.random(m)

    age = np.select(
        [rel == 1, rel == 2, rel == 3, rel == 6, rel == 5],
        [
            head_age,
            np.where(head_female, head_age + 3, head_age - 4) + np.round(rng.normal(0, 3.5, m)),
            np.where(head_age >= 45, head_age - 20 - np.floor(u * 25), np.floor(u * np.clip(head_age - 18, 1, 27))),
            head_age + 26 + np.round(rng.normal(0, 4, m)),
            np.floor(u * 16),
        ],
        default=np.floor(5 + u * 70),
    )
    age = np.clip(age, 0, 100).astype(np.int64)
    age = np.where(rel == 2, np.maximum(age, 16), age)
    sex = np.select(
        [rel == 1, rel == 2],
        [np.where(head_female, 2, 1), np.where(head_female, 1, 2)],
        default=np.where(rng.random(m) < 0.5, 1, 2),
    )
    return age, sex


def _marital_status(comp: pd.DataFrame, fam, rel, age, rng):
    """Marital status; and the children who married (and so left school)."""
    m = len(fam)
    has_spouse = comp.has_spouse.to_numpy()[fam]
    marital = np.full(m, 1)
    married_child = (rel == 3) & (age >= 19) & (rng.random(m) < _logistic((age - 25) / 3))
    marital[(rel == 2) | ((rel == 1) & has_spouse) | married_child] = 2
    alone_head = (rel == 1) & ~has_spouse
    marital[alone_head] = np.where(
        age[alone_head] >= 50,
        np.where(rng.random(alone_head.sum()) < 0.75, 4, 3),
        np.where(rng.random(alone_head.sum()) < 0.5, 3, 1),
    )
    parent = rel == 6
    marital[parent] = np.where(rng.random(parent.sum()) < 0.7, 4, 2)
    other = (rel == 8) & (age >= 18)
    marital[other] = rng.choice([1, 2, 3, 4], other.sum(), p=[0.5, 0.3, 0.1, 0.1])
    return marital, married_child


def _schooling(wm, urb, age, married_child, rng):
    """Highest diploma from welfare, cohort and area (capped by age); school participation and level."""
    m = len(age)
    latent = 0.75 * wm + 0.45 * urb - 0.028 * (np.maximum(age, 25) - 45) + rng.normal(0, 0.85, m)
    edu = np.digitize(latent, [-1.25, -0.35, 0.25, 1.05, 1.45, 2.25])
    cap = np.select([age < 12, age < 15, age < 18, age < 21, age < 22], [0, 1, 2, 3, 4], default=6)
    edu = np.minimum(edu, cap)

    # school participation and level
    p_attend = np.select(
        [age <= 4, age == 5, age == 6, age <= 12, age <= 15, age <= 18, age <= 22, age <= 24],
        [
            0.0,
            0.05,
            0.55,
            0.985,
            _logistic(2.4 + 0.5 * wm),
            _logistic(0.9 + 0.8 * wm),
            _logistic(-1.4 + 0.9 * wm),
            _logistic(-2.6 + 0.8 * wm),
        ],
        default=0.0,
    )
    attending = (rng.random(m) < p_attend) & ~married_child
    level = np.select([age <= 12, age <= 15, age <= 18], [1, 2, 3], default=4)
    level = np.where((rng.random(m) < 0.08) & (level > 1) & (level < 4), level - 1, level)
    level = np.where((age >= 19) & (age <= 20) & (rng.random(m) < 0.3), 3, level)
    edu = np.where(attending, level - 1, edu)
    participation = np.where(attending, 2, np.where((edu > 0) | ((age >= 7) & (rng.random(m) < 0.85)), 3, 1))
    participation = np.where(age < 5, 1, participation)

    return edu, attending, level, participation


def _work_and_health(edu, wm, urb, rel, sex, age, marital, attending, rng):
    """Work last week with its sector and status; disability, chronic illness and pregnancy."""
    m = len(age)
    p_work = np.where(sex == 1, 0.86, 0.52) * np.clip((age - 14) / 6, 0, 1) * np.clip((78 - age) / 14, 0, 1)
    p_work = np.where(attending, 0.08 * (age >= 15), p_work)
    worked = rng.random(m) < p_work
    sector, status = _work(worked, edu, wm, urb, rel, sex, rng)

    dis_p = 0.004 + 0.0018 * np.maximum(age - 50, 0) + 0.0005 * np.maximum(age - 75, 0) ** 2
    disability = rng.random(m) < dis_p * np.exp(-0.15 * wm)
    chronic = rng.random(m) < np.clip(0.015 + 0.0065 * np.maximum(age - 35, 0), 0, 0.6)
    fertile = (sex == 2) & (age >= 15) & (age <= 49) & (marital == 2)
    p_preg = 0.085 * np.exp(-0.045 * np.maximum(age - 24, 0)) * np.exp(-0.12 * wm)
    pregnant = fertile & (rng.random(m) < p_preg)
    return worked, sector, status, disability, chronic, pregnant


# sector weights: (rural base, urban base, education slope) per contract sector code 1..19
_SECTORS = np.array(
    [
        [0.30, 0.03, -0.5],
        [0.06, 0.01, -0.4],
        [0.09, 0.01, -0.4],
        [0.04, 0.01, -0.4],
        [0.03, 0.01, -0.4],
        [0.02, 0.00, -0.4],
        [0.01, 0.005, 0.0],
        [0.08, 0.14, 0.0],
        [0.003, 0.008, 0.3],
        [0.07, 0.07, -0.2],
        [0.13, 0.24, 0.0],
        [0.04, 0.06, 0.0],
        [0.03, 0.08, -0.1],
        [0.004, 0.02, 0.8],
        [0.004, 0.02, 0.9],
        [0.02, 0.04, 0.8],
        [0.03, 0.05, 0.9],
        [0.01, 0.025, 0.9],
        [0.04, 0.08, 0.0],
    ]
)


def _work(worked, edu, wm, urb, rel, sex, rng):
    m = len(worked)
    base = np.where(urb[:, None], _SECTORS[:, 1], _SECTORS[:, 0]) + 1e-4
    score = np.log(base) + _SECTORS[:, 2] * (edu[:, None] - 2.5) + rng.gumbel(size=(m, len(_SECTORS)))
    sector = np.where(worked, score.argmax(axis=1) + 1, 0)
    formal = _logistic(-1.4 + 0.55 * (edu - 2) + 0.45 * urb + 0.25 * wm + 1.5 * np.isin(sector, [15, 16, 17, 18]))
    formal = np.where(np.isin(sector, [1, 2, 3, 4, 5, 6]), formal * 0.35, formal)
    u = rng.random(m)
    unpaid_p = np.where((rel != 1) & ((sex == 2) | (rel == 3)), 0.35, 0.04)
    status = np.select(
        [u < formal, u < formal + (1 - formal) * unpaid_p],
        [4, 6],
        default=rng.choice([1, 5, 2, 3], m, p=[0.60, 0.28, 0.10, 0.02]),
    )
    status = np.where(worked, status, 0)
    return sector.astype(np.int64), status.astype(np.int64)
