"""Who a verification list can reach: its candidates, how visits are shared over units, and the
families that get reasons by default (`reachable`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ERROR_TYPES = ("inclusion", "exclusion")
REASONS_SHARE = 0.1
REACH_COLUMNS = (
    "family_id",
    "district_code",
    "village_code",
    "error_type",
    "error_score",
    "benefit_rp",
    "n_components",
)
UNITS = REACH_COLUMNS[1:3]


def candidates(scores: pd.DataFrame) -> pd.DataFrame:
    """The families a list can hold: every beneficiary, and the non-beneficiaries with a PKH
    component. One without cannot be eligible, so it is no exclusion error (by rule) and never a
    visit, ranked or audit: the audit sample is spent where the status is uncertain."""
    keep = _is_candidate(scores)
    return scores if keep.all() else scores[keep]


def _is_candidate(scores: pd.DataFrame) -> np.ndarray:
    return (scores["error_type"] == "inclusion").to_numpy() | (scores["n_components"].to_numpy() > 0)


def largest_remainder(
    weights: np.ndarray, total: int, floor: np.ndarray, cap: np.ndarray, order: np.ndarray | None = None
) -> np.ndarray:
    """Integers that sum to ``total`` (or to ``cap.sum()``), each at most its cap, otherwise
    proportional to ``weights`` by Hamilton's method (whole parts, then the largest remainders).
    Floors are met while the total allows: when it cannot cover them all, they are met in ``order``
    (by default of ``weights``, largest first) and the rest get none."""
    alloc = np.minimum(floor, cap)
    if alloc.sum() > total:
        order = np.argsort(-np.asarray(weights, float), kind="stable") if order is None else order
        room = np.minimum(np.cumsum(alloc[order]), total) - np.minimum(np.cumsum(alloc[order]) - alloc[order], total)
        served = np.zeros_like(alloc)
        served[order] = room
        return served
    left = min(total, int(cap.sum())) - int(alloc.sum())
    while left > 0:
        room = cap - alloc
        w = np.where(room > 0, weights, 0.0)
        if w.sum() <= 0:
            w = (room > 0).astype(float)
        share = w / w.sum() * left
        whole = np.floor(share).astype(int)
        add = np.minimum(whole, room)
        if (add == whole).all():  # no cap in the way: the remainders one by one, largest first
            extra = left - int(add.sum())
            for i in np.argsort(-(share - whole) - 1e-9 * np.arange(len(share)), kind="stable"):
                if not extra:
                    break
                if room[i] > add[i]:
                    add[i] += 1
                    extra -= 1
        alloc = alloc + add
        left -= int(add.sum())
    return alloc


def benefit_at_stake(scores: pd.DataFrame) -> pd.Series:
    """Yearly rupiah a visit puts right: the family's benefit under the rules, or for a family with
    no component (an inclusion error by rule, paid an amount the rules no longer grant) the smallest
    benefit paid in the batch."""
    paid = scores["benefit_rp"].where(scores["benefit_rp"] > 0)
    floor = float(paid.min()) if paid.notna().any() else 0.0
    return scores["benefit_rp"].where(scores["benefit_rp"] > 0, floor).astype("int64")


def reachable(scores: pd.DataFrame, share: float = REASONS_SHARE) -> np.ndarray:
    """Which families of a scored batch a verification list can reach, by rows of ``scores`` (of
    which `REACH_COLUMNS` are read).

    The ranked visits of `rank_for_verification` at any budget up to ``share`` of the candidates
    (`candidates`): for either list (whatever ``inclusion_share``), per district or per village
    (``by``), ranked by expected value or by error probability (``priority``), with one visit for every
    unit at least (``min_per_unit=1``). Per list, unit and ranking, a family is reachable if it is
    among as many as the unit would get of the whole budget in that list, one more (for rounding),
    and any tied with the last. The audit sample draws from all candidates and is not covered.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1], got {share}.")
    keep = _is_candidate(scores)
    out = np.zeros(len(scores), bool)
    budget = int(np.ceil(share * keep.sum()))
    error = scores["error_score"].to_numpy(dtype=np.float64)
    stake = np.zeros(len(scores))
    stake[keep] = benefit_at_stake(scores[keep]).to_numpy(dtype=np.float64)
    keys = (error * stake, error)
    for t in ERROR_TYPES:
        rows = np.flatnonzero(keep & (scores["error_type"] == t).to_numpy())
        if not len(rows) or not budget:
            continue
        for by in UNITS:
            unit = pd.factorize(scores[by].to_numpy()[rows], sort=True)[0]  # units in text order, as ranked
            sizes = np.bincount(unit)
            expected = np.bincount(unit, weights=error[rows])
            for key in keys:
                k = key[rows]
                best = np.full(len(sizes), -np.inf)
                np.maximum.at(best, unit, k)
                order = np.lexsort((np.arange(len(best)), -best))
                quota = largest_remainder(expected, min(budget, len(rows)), np.ones(len(sizes), int), sizes, order)
                quota = np.minimum(quota + 1, sizes)
                by_unit = np.lexsort((-k, unit))  # units in turn, each best first
                start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
                last = k[by_unit[start + quota - 1]]  # the key of each unit's last reachable family
                out[rows[k >= last[unit]]] = True
    return out
