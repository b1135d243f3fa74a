"""Verification lists: budgeted ranking per district or village, with a random audit sample."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..modeling import ERROR_TYPES, benefit_at_stake, candidates, largest_remainder


def rank_for_verification(
    scores: pd.DataFrame,
    budget: int,
    *,
    by: str = "district_code",
    audit_share: float = 0.1,
    inclusion_share: float | None = 0.5,
    priority: str = "value",
    min_per_unit: int = 1,
    explore_share: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Choose the families to visit within ``budget`` visits, per district (or village).

    Parameters
    ----------
    scores : DataFrame
        Scored batch (``contract/scores.yaml``).
    budget : int
        Visits in all, audit sample included.
    by : {"district_code", "village_code"}
        The unit that gets its own ordered list.
    audit_share : float, default=0.1
        Share of the budget drawn at random (with known probabilities) from the families not
        ranked, so that the office can estimate true error rates without the ranking's bias.
    inclusion_share : float or None, default=0.5
        Share of the visits for the inclusion list (beneficiaries); the rest go to the exclusion
        list. ``None`` splits in proportion to the expected value of each list.
    priority : {"value", "probability"}, default="value"
        ``value`` ranks by the expected rupiah of a visit: error probability times the yearly benefit
        at stake; ``probability`` by the error probability alone.
    min_per_unit : int, default=1
        Ranked visits every unit with candidates gets before the rest is shared in proportion to
        the errors expected there, while the budget allows: with more units than visits, units are
        served in order of what their first visit is worth and the rest get none
        (`summarize_lists` lists them with 0 visits). The budget is never exceeded.
    explore_share : float, default=0.0
        Share of the budget spent where the model is least sure: drawn, after the audit sample, from
        the families neither ranked nor audited with probabilities proportional to ``p (1 - p)``
        (systematic PPS), each recorded as ``selection_probability`` (``explore`` True). Their results
        teach the next model most; the audit sample still estimates the error rates unbiased.
    seed : int, default=0

    Returns
    -------
    DataFrame, one row per family to visit: ``list`` (inclusion/exclusion), the unit, ``rank`` within
    the unit's list (exploration, then audit rows last), ``audit``, ``explore``, ``selection_probability``
    (1 for ranked families),
    ``expected_error``, ``benefit_at_stake_rp``, ``expected_value_rp`` and the scores' columns.
    Ties are broken by family_id, so the same scores and seed give the same list.
    """
    _check_params(by, priority, audit_share, budget)
    if not 0 <= explore_share < 1 - audit_share:
        raise ValueError(f"explore_share must be in [0, 1 - audit_share), got {explore_share}.")
    scores = candidates(scores)
    s, key = _ranking_frame(scores, by, priority)
    lists = {t: s[s["error_type"] == t] for t in ERROR_TYPES}
    per_list, audit_per_list = _split_budget(lists, key, budget, audit_share + explore_share, inclusion_share)
    rng = np.random.default_rng(seed)
    out = []
    for t, n_ranked, n_drawn in zip(ERROR_TYPES, per_list, audit_per_list):
        n_explore = int(round(n_drawn * explore_share / (audit_share + explore_share))) if n_drawn else 0
        out.append(_choose(lists[t], t, by, key, int(n_ranked), int(n_drawn) - n_explore, min_per_unit, rng, n_explore))
    return _assemble(pd.concat(out), scores, by, key)


def meeting_agenda(scores: pd.DataFrame, per_village: int = 20, *, min_error: float = 0.5) -> pd.DataFrame:
    """Per village, the families its musyawarah desa should discuss first: the likely errors of both
    lists (error score at least ``min_error``), the most worth checking first (error probability times
    the yearly benefit at stake), at most ``per_village`` of them.

    Rows as `rank_for_verification`'s (``audit`` False), ``rank`` running over both lists of the village.
    """
    if per_village < 1:
        raise ValueError(f"per_village must be at least 1, got {per_village}.")
    s, key = _ranking_frame(scores, "village_code", "value")
    s = s[s["error_score"] >= min_error].sort_values([key, "family_id"], ascending=[False, True], kind="stable")
    chosen = s[s.groupby("village_code", observed=True).cumcount() < per_village]
    chosen = chosen.assign(audit=False, explore=False, selection_probability=1.0)
    chosen.insert(0, "list", chosen["error_type"].to_numpy())
    res = _assemble(chosen, scores, "village_code", key)
    res = res.sort_values(
        ["village_code", key, "family_id"], ascending=[True, False, True], kind="stable", ignore_index=True
    )
    res["rank"] = res.groupby("village_code").cumcount() + 1
    return res


def _assemble(chosen: pd.DataFrame, scores: pd.DataFrame, by: str, key: str) -> pd.DataFrame:
    """The chosen visits in list, unit and rank order, with all the scores' columns back."""
    res = chosen.sort_values(
        ["list", by, "audit", "explore", key, "family_id"],
        ascending=[True, True, True, True, False, True],
        kind="stable",
    )
    added = ["benefit_at_stake_rp", "expected_error", "expected_value_rp", "audit", "explore", "selection_probability"]
    res = pd.concat(
        [
            res[["list"]].reset_index(drop=True),
            scores.iloc[res.index.to_numpy()].reset_index(drop=True),
            res[added].reset_index(drop=True),
        ],
        axis=1,
    )
    res["unit"] = res[by]
    res["rank"] = res.groupby(["list", "unit"]).cumcount() + 1
    return res


def _check_params(by: str, priority: str, audit_share: float, budget: int) -> None:
    if by not in ("district_code", "village_code"):
        raise ValueError(f"by must be 'district_code' or 'village_code', got {by!r}.")
    if priority not in ("value", "probability"):
        raise ValueError(f"priority must be 'value' or 'probability', got {priority!r}.")
    if not 0 <= audit_share < 1:
        raise ValueError(f"audit_share must be in [0, 1), got {audit_share}.")
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}.")


def _ranking_frame(scores: pd.DataFrame, by: str, priority: str) -> tuple[pd.DataFrame, str]:
    """The few columns ranking needs, indexed by row position, with numbers for text: the family's
    place in family_id order breaks ties, units are categories in text order; and the sort key."""
    s = scores[["family_id", by, "error_type", "error_score", "benefit_rp"]].reset_index(drop=True)
    s = s.sort_values("family_id", kind="stable")
    s["family_id"] = np.arange(len(s))
    s[by] = s[by].astype("category")
    s["benefit_at_stake_rp"] = benefit_at_stake(s)
    s["expected_error"] = s["error_score"]
    s["expected_value_rp"] = s["error_score"] * s["benefit_at_stake_rp"]
    return s, "expected_value_rp" if priority == "value" else "expected_error"


def _split_budget(lists: dict, key: str, budget: int, audit_share: float, inclusion_share):
    """Ranked and audit visits per list (inclusion, exclusion): never more than the budget or the
    families there are, the audit sample exactly ``audit_share`` of the visits (rounded)."""
    listed = min(budget, sum(len(d) for d in lists.values()))
    n_audit_total = int(round(audit_share * listed))
    ranked_total = listed - n_audit_total
    if inclusion_share is None:
        value = np.array([lists[t][key].sum() for t in ERROR_TYPES])
        shares = value / value.sum() if value.sum() > 0 else np.array([0.5, 0.5])
    else:
        shares = np.array([inclusion_share, 1 - inclusion_share])
    per_list = largest_remainder(shares, ranked_total, np.zeros(2, int), np.array([len(lists[t]) for t in ERROR_TYPES]))
    audit_per_list = largest_remainder(
        shares, n_audit_total, np.zeros(2, int), np.array([len(lists[t]) - k for t, k in zip(ERROR_TYPES, per_list)])
    )
    return per_list, audit_per_list


def _choose(d, t, by, key, n_ranked: int, n_audit: int, min_per_unit: int, rng, n_explore: int = 0) -> pd.DataFrame:
    """One list's visits: the highest ``key`` per unit within the unit's share, a random audit sample
    of the rest with its selection probability, and an exploration sample of what is left."""
    d = d.sort_values([key, "family_id"], ascending=[False, True], kind="stable")
    units = d.groupby(by, observed=True)
    sizes = units.size()
    expected = units["expected_error"].sum().to_numpy()
    best = units[key].max().to_numpy()  # what a unit's first visit is worth: units are served in this order
    order = np.lexsort((np.arange(len(best)), -best))
    floor = np.full(len(sizes), min_per_unit)
    alloc = np.zeros(len(d[by].cat.categories) + 1, int)  # the last for families of no unit: none
    alloc[sizes.index.codes] = largest_remainder(expected, n_ranked, floor, sizes.to_numpy(), order)
    chosen = units.cumcount().to_numpy() < alloc[d[by].cat.codes.to_numpy()]
    ranked = d[chosen].assign(audit=False, explore=False, selection_probability=1.0)
    rest = d[~chosen]
    n_audit = min(n_audit, len(rest))
    pick = rng.choice(len(rest), n_audit, replace=False) if n_audit else np.array([], int)
    audit = rest.iloc[np.sort(pick)].assign(
        audit=True, explore=False, selection_probability=n_audit / max(len(rest), 1)
    )
    left = rest.drop(rest.index[pick])
    p = left["error_score"].to_numpy()
    found, pi = pps_sample(p * (1 - p), n_explore, rng)
    explore = left.iloc[found].assign(audit=False, explore=True, selection_probability=pi[found])
    both = pd.concat([ranked, audit, explore])
    both.insert(0, "list", t)
    return both


def pps_sample(size, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` units drawn with inclusion probabilities proportional to ``size`` (capped at one), by
    systematic sampling on a random order: the chosen positions (sorted), and every unit's probability."""
    size = np.asarray(size, dtype=float)
    n = int(min(n, (size > 0).sum()))
    pi = np.zeros(len(size))
    if n <= 0:
        return np.array([], int), pi
    certain = np.zeros(len(size), bool)
    while True:  # units whose share reaches one are taken for certain, the rest share what is left
        pi[~certain] = size[~certain] * (n - certain.sum()) / size[~certain].sum()
        pi[certain] = 1.0
        if not (pi[~certain] > 1).any():
            break
        certain |= pi > 1
    order = rng.permutation(len(size))
    edges = np.cumsum(pi[order])
    hits = np.searchsorted(edges, rng.random() + np.arange(n), side="right")
    return np.sort(order[np.minimum(hits, len(size) - 1)]), pi


def summarize_lists(ranked: pd.DataFrame, scores: pd.DataFrame, *, by: str = "district_code") -> pd.DataFrame:
    """Expected errors found and rupiah at stake per unit and list, against as many random visits."""
    scores = candidates(scores)
    pool = (
        scores.assign(expected_value_rp=scores["error_score"] * benefit_at_stake(scores))
        .groupby(["error_type", by])[["error_score", "expected_value_rp"]]
        .mean()
        .rename_axis(["list", "unit"])
    )
    out = ranked.groupby(["list", "unit"]).agg(
        visits=("audit", "size"),
        audit_visits=("audit", "sum"),
        expected_errors_found=("expected_error", "sum"),
        rupiah_at_stake=("expected_value_rp", "sum"),
    )
    # every unit with candidates, those the budget did not reach with 0 visits
    out = out.reindex(out.index.union(pool.index), fill_value=0)
    out["audit_visits"] = out["audit_visits"].astype("int64")
    mean = pool.reindex(out.index)  # a unit without scores of its list has no random baseline
    out["expected_errors_random"] = (out["visits"] * mean["error_score"]).fillna(0.0)
    out["rupiah_at_stake_random"] = (out["visits"] * mean["expected_value_rp"]).fillna(0.0)
    out = out[
        [
            "visits",
            "audit_visits",
            "expected_errors_found",
            "expected_errors_random",
            "rupiah_at_stake",
            "rupiah_at_stake_random",
        ]
    ].reset_index()
    if len(out):
        out["gain_vs_random"] = out["expected_errors_found"] / out["expected_errors_random"].where(
            out["expected_errors_random"] > 0
        )
    return out
