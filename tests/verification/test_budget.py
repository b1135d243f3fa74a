"""The budget is the number of visits an office can pay for: never exceeded, the audit share exact."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import examples
from pkh_targeting import rank_for_verification
from pkh_targeting.modeling import candidates, reachable
from pkh_targeting.modeling._reach import benefit_at_stake, largest_remainder
from pkh_targeting.verification import meeting_agenda, summarize_lists


def _scores(n: int, n_districts: int, villages_per_district: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    district = rng.integers(0, n_districts, n)
    village = district * 10 + rng.integers(0, villages_per_district, n)
    receives = rng.random(n) < 0.4
    p = rng.beta(1, 3, n).round(2)  # ties are common
    return pd.DataFrame(
        {
            "family_id": pd.array([f"F{i:05d}" for i in rng.permutation(n)], dtype="string"),
            "province_code": "32",
            "regency_code": "3201",
            "district_code": pd.array([f"3201{d:03d}" for d in district], dtype="string"),
            "village_code": pd.array([f"3201{v:06d}" for v in village], dtype="string"),
            "receives_pkh": receives,
            "n_components": rng.integers(0, 3, n),
            "benefit_rp": rng.choice([0, 900_000, 2_400_000, 3_000_000], n),
            "p_eligible": p,
            "error_type": np.where(receives, "inclusion", "exclusion"),
            "error_score": np.where(receives, 1 - p, p),
            "reasons": pd.array([pd.NA] * n, dtype="string"),
            "model_version": "local:test",
            "rules_version": "pkh-2025",
        }
    )


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 400),
    n_districts=st.integers(1, 60),
    villages=st.integers(1, 8),
    budget=st.integers(0, 500),
    by=st.sampled_from(["district_code", "village_code"]),
    audit_share=st.floats(0, 0.9),
    inclusion_share=st.one_of(st.none(), st.floats(0, 1)),
    priority=st.sampled_from(["value", "probability"]),
    seed=st.integers(0, 3),
)
def test_never_more_than_the_budget_and_the_audit_share_exact(
    n, n_districts, villages, budget, by, audit_share, inclusion_share, priority, seed
):
    scores = _scores(n, n_districts, villages, seed)
    ranked = rank_for_verification(
        scores, budget, by=by, audit_share=audit_share, inclusion_share=inclusion_share, priority=priority, seed=seed
    )
    # a non-beneficiary without a component cannot be eligible: never a candidate
    pool = scores[scores.receives_pkh | (scores.n_components > 0)]
    listed = min(budget, len(pool))
    assert len(ranked) == listed and ranked.family_id.isin(pool.family_id).all()
    assert int(ranked["audit"].sum()) == int(round(audit_share * listed))
    assert ranked["family_id"].is_unique
    summary = summarize_lists(ranked, scores, by=by)
    assert summary["visits"].sum() == listed
    units = pool.groupby(["error_type", by]).ngroups
    assert len(summary) == units  # every unit with candidates, reached or not


def test_many_small_districts_get_the_budget_not_one_visit_each():
    scores = _scores(20_000, 2_500, 3, seed=0)  # more districts than visits
    ranked = rank_for_verification(scores, 500)
    assert len(ranked) == 500 and ranked["audit"].sum() == 50
    summary = summarize_lists(ranked, scores)
    assert (summary["visits"] == 0).sum() > 0
    # the districts served are those whose best family (of those that can be errors) is worth most
    pool = scores[scores.receives_pkh | (scores.n_components > 0)]
    key = pool["error_score"] * pool["benefit_rp"].where(pool["benefit_rp"] > 0, 900_000)
    best = pool.assign(v=key).groupby(["error_type", "district_code"])["v"].max()
    served = ranked[~ranked["audit"]].groupby(["list", "unit"]).size().index
    for t in ("inclusion", "exclusion"):
        mine = best[t]
        reached = served[served.get_level_values(0) == t].get_level_values(1)
        assert mine.drop(reached).max() <= mine.reindex(reached).min() + 1e-9, t


def test_audit_sized_by_precision_reaches_its_margin():
    from pkh_targeting.verification import audit_margins, audit_share_for_margin, rate_margin, sample_size

    assert sample_size(10**9, 0.05) == 385  # the textbook n for +-5% at 95%
    assert sample_size(100, 0.05) == 80 and sample_size(0, 0.05) == 0  # finite population
    assert rate_margin(385, 10**9) == pytest.approx(0.05, abs=1e-3) and rate_margin(0, 10) == float("inf")
    scores = _scores(20_000, 40, 3, seed=1)
    share = audit_share_for_margin(scores, 6_000, 0.05)
    ranked = rank_for_verification(scores, 6_000, audit_share=share)
    margins = audit_margins(ranked, scores).set_index("list")
    assert (margins["margin"] <= 0.05).all()  # leakage and undercoverage within the margin asked for
    tighter = audit_margins(rank_for_verification(scores, 6_000, audit_share=share / 2), scores)
    assert (tighter["margin"].to_numpy() > margins["margin"].to_numpy()).all()  # a smaller sample is less precise
    with pytest.warns(UserWarning, match="cannot estimate"):
        assert audit_share_for_margin(scores, 500, 0.05) == 0.9


def test_the_audit_share_for_a_margin_by_hand():
    """The share is the larger list's need: n(left out, margin x rate denominator / left out) over
    the list's share of the visits; sample sizes follow the finite-population formula exactly."""
    from pkh_targeting.verification import audit_share_for_margin, sample_size

    assert sample_size(1, 0.05) == 1 and sample_size(29, 0.05) == 28 and sample_size(36, 0.05) == 33
    with pytest.raises(ValueError, match="margin"):
        sample_size(100, 0.0)
    scores = _scores(5_000, 10, 2, seed=3)
    pool = scores[scores.receives_pkh | (scores.n_components > 0)]
    n_ben, n_other = int(pool.receives_pkh.sum()), int((~pool.receives_pkh).sum())
    eligible = float(pool.p_eligible.sum())  # families without a component: p = 0 in real scores
    for inclusion_share, confidence in ((0.3, 0.9), (None, 0.95)):
        s = 0.5 if inclusion_share is None else inclusion_share
        need = max(
            sample_size(n_ben, 0.03 * n_ben / n_ben, confidence) / s,
            sample_size(n_other, 0.03 * eligible / n_other, confidence) / (1 - s),
        )
        got = audit_share_for_margin(scores, 4_000, 0.03, confidence=confidence, inclusion_share=inclusion_share)
        assert got == pytest.approx(need / 4_000), inclusion_share
    # all visits to one list: the other list's sample is not sized (its share of 0 would need infinity)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a share the budget can give is no warning
        only = audit_share_for_margin(scores, 4_000, 0.03, inclusion_share=1.0)
        assert only == pytest.approx(sample_size(n_ben, 0.03) / 4_000)
        assert audit_share_for_margin(scores, 4_000, 0.03, inclusion_share=0.0) == pytest.approx(
            sample_size(n_other, 0.03 * eligible / n_other) / 4_000
        )
        # nobody left to estimate in the list that gets every visit: no audit
        assert audit_share_for_margin(scores[~scores.receives_pkh], 4_000, 0.03, inclusion_share=1.0) == 0.0
    with pytest.warns(UserWarning, match="cannot estimate"):
        audit_share_for_margin(scores, 100, 0.03)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 400),
    n_districts=st.integers(1, 40),
    villages=st.integers(1, 8),
    share=st.floats(0.01, 0.5),
    fraction=st.floats(0, 1),
    by=st.sampled_from(["district_code", "village_code"]),
    audit_share=st.floats(0, 0.5),
    inclusion_share=st.one_of(st.none(), st.floats(0, 1)),
    priority=st.sampled_from(["value", "probability"]),
    seed=st.integers(0, 3),
)
def test_every_ranked_visit_within_the_reasons_share_is_reachable(
    n, n_districts, villages, share, fraction, by, audit_share, inclusion_share, priority, seed
):
    scores = _scores(n, n_districts, villages, seed)
    reach = reachable(scores, share)
    pool = candidates(scores)
    budget = int(fraction * share * len(pool))  # any budget up to the share of the candidates
    ranked = rank_for_verification(
        scores, budget, by=by, audit_share=audit_share, inclusion_share=inclusion_share, priority=priority, seed=seed
    )
    ranked = ranked[~ranked["audit"]]
    assert set(ranked["family_id"]) <= set(scores["family_id"][reach])
    assert not reach[~scores.index.isin(pool.index)].any()  # never a family no list can hold


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    n_districts=st.integers(1, 30),
    villages=st.integers(1, 6),
    share=st.floats(0.01, 0.6),
    seed=st.integers(0, 3),
)
@example(n=250, n_districts=5, villages=3, share=0.0625, seed=0)  # units out of text order get other remainders
def test_reachable_is_exactly_one_more_than_each_units_share_of_the_whole_budget(n, n_districts, villages, share, seed):
    """Tight, not only complete: the families reachable are, per list, unit and ranking, those at or
    above the family one past the unit's ranked visits when the whole budget goes to that list."""
    scores = _scores(n, n_districts, villages, seed)
    pool = candidates(scores)
    budget = int(np.ceil(share * len(pool)))
    keys = (("value", pool.error_score * benefit_at_stake(pool)), ("probability", pool.error_score))
    expected = set()
    for t, inclusion_share in (("inclusion", 1.0), ("exclusion", 0.0)):
        mine = pool[pool.error_type == t]
        for by in ("district_code", "village_code"):
            for priority, key in keys:
                ranked = rank_for_verification(
                    scores,
                    min(budget, len(mine)),
                    by=by,
                    audit_share=0,
                    inclusion_share=inclusion_share,
                    priority=priority,
                )
                visits = ranked.groupby(by).size()
                for unit, fam in mine.assign(key=key[mine.index]).groupby(by):
                    k = fam["key"].sort_values(ascending=False).to_numpy()
                    last = k[min(int(visits.get(unit, 0)), len(k) - 1)]  # one past the unit's visits
                    expected |= set(fam.family_id[fam["key"] >= last])
    assert set(scores.family_id[reachable(scores, share)]) == expected


def test_reachable_is_a_small_share_of_a_large_batch():
    scores = _scores(20_000, 30, 8, 0)
    reach = reachable(scores, 0.1)
    n = len(candidates(scores))
    # 0.1 of the candidates for each list, by district or village and by value or probability, overlap
    assert 0.1 * n < reach.sum() < 0.45 * n
    assert (reach <= reachable(scores, 0.2)).all() and reachable(scores, 0.2).sum() > reach.sum()
    assert not reachable(scores, 0.0).any()
    with pytest.raises(ValueError, match="share"):
        reachable(scores, 1.5)


def _units(*units):
    """A batch from (list, district, village, error scores, benefit) per unit."""
    rows = [
        {
            "family_id": f"{t[0]}{d}{v}-{i}",
            "district_code": d,
            "village_code": f"{d}{v}",
            "error_type": t,
            "error_score": p,
            "benefit_rp": benefit,
            "n_components": 1,
        }
        for t, d, v, scores, benefit in units
        for i, p in enumerate(scores)
    ]
    return pd.DataFrame(rows)


def test_reachable_by_hand():
    # one list, two districts: A's 8 families are unlikely errors, B's 2 likely ones. A budget of 3
    # gives each district one and B the third (expected errors 0.8 against 1.8, not head counts);
    # one more for rounding: A reaches 2, B both.
    low = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17]
    scores = _units(("inclusion", "A", 1, low, 1_000_000), ("inclusion", "B", 1, [0.9, 0.8], 1_000_000))
    got = set(scores.family_id[reachable(scores, 0.3)])
    assert got == {"iA1-7", "iA1-6", "iB1-0", "iB1-1"}
    assert reachable(scores, 1.0).all() and not reachable(scores, 0.0).any()
    # by value and by probability: the likeliest error is not the one worth most
    values = _units(("exclusion", "C", 1, [0.9, 0.5, 0.4, 0.3], 1_000_000)).assign(
        benefit_rp=[900_000, 3_000_000, 3_000_000, 900_000]
    )
    assert set(values.family_id[reachable(values, 0.25)]) == {"eC1-0", "eC1-1", "eC1-2"}
    # no candidate in the first list: the second is still reached
    assert reachable(values, 0.25).any()
    # more units than visits: the one visit goes to the unit whose best family is worth most (E);
    # one more for rounding reaches every unit's best
    pairs = [[0.2, 0.15], [0.9, 0.85], [0.5, 0.45], [0.1, 0.05]]
    many = _units(*[("inclusion", d, 1, p, 1_000_000) for d, p in zip("DEFG", pairs)])
    assert set(many.family_id[reachable(many, 1 / 8)]) == {"iE1-0", "iE1-1", "iD1-0", "iF1-0", "iG1-0"}


def test_largest_remainder_by_hand():
    zeros, room = np.zeros(3, int), np.full(3, 5)
    assert largest_remainder(np.array([1, 1, 1]), 2, zeros, room).tolist() == [0, 1, 1]  # ties: the later
    assert largest_remainder(np.array([2.0, 1.0, 1.0]), 7, zeros, room).tolist() == [3, 2, 2]  # 3.5, 1.75, 1.75
    assert largest_remainder(np.array([10.0, 1.0]), 6, np.zeros(2, int), np.array([2, 10])).tolist() == [2, 4]  # capped
    # floors the total cannot cover: met in order of weight, or in the order given
    assert largest_remainder(np.array([1, 3, 2]), 2, np.ones(3, int), room).tolist() == [0, 1, 1]
    assert largest_remainder(np.array([1, 3, 2]), 2, np.ones(3, int), room, np.arange(3)).tolist() == [1, 1, 0]
    # a unit with room but no weight takes what the others cannot
    assert largest_remainder(np.array([1.0, 0.0]), 5, np.zeros(2, int), np.array([2, 10])).tolist() == [2, 3]
    assert largest_remainder(np.array([1.0, 0.0]), 20, np.zeros(2, int), np.array([2, 10])).tolist() == [2, 10]
    assert largest_remainder(np.array([1.0, 0.0, 0.0]), 3, zeros, np.ones(3, int)).tolist() == [1, 1, 1]
    assert largest_remainder(np.array([3.0, 1.0]), 1, np.zeros(2, int), np.array([5, 5])).tolist() == [1, 0]


def test_benefit_at_stake_by_hand():
    got = benefit_at_stake(pd.DataFrame({"benefit_rp": [0, 1, 900_000, 0]}))
    assert got.tolist() == [1, 1, 900_000, 1] and got.dtype == "int64"  # no benefit: the smallest paid
    assert benefit_at_stake(pd.DataFrame({"benefit_rp": [0, 0]})).tolist() == [0, 0]


def test_ranked_rows_by_hand():
    """Rows in list, unit and rank order, audit visits last in their unit; ties go to the lower
    family_id; an audit family drawn from one left has probability 1."""
    scores = _units(
        ("inclusion", "A", 1, [0.9, 0.5, 0.5], 1_000_000),
        ("inclusion", "B", 1, [0.8, 0.7], 1_000_000),
        ("exclusion", "A", 1, [0.6, 0.6], 1_000_000),
    ).sample(frac=1, random_state=1)
    # 6 ranked visits: 4 to the inclusion list (the exclusion list has 2), of which A (1.9 expected
    # errors) and B (1.5) get one each and one more each (Hamilton: 1.12 and 0.88 of the 2 left)
    ranked = rank_for_verification(scores, 7, audit_share=1 / 7)
    got = ranked[["list", "unit", "family_id", "rank", "audit", "selection_probability"]].to_numpy().tolist()
    assert got == [
        ["exclusion", "A", "eA1-0", 1, False, 1.0],
        ["exclusion", "A", "eA1-1", 2, False, 1.0],
        ["inclusion", "A", "iA1-0", 1, False, 1.0],
        ["inclusion", "A", "iA1-1", 2, False, 1.0],
        ["inclusion", "A", "iA1-2", 3, True, 1.0],
        ["inclusion", "B", "iB1-0", 1, False, 1.0],
        ["inclusion", "B", "iB1-1", 2, False, 1.0],
    ]
    added = ["benefit_at_stake_rp", "expected_error", "expected_value_rp", "audit", "explore", "selection_probability"]
    assert list(ranked.columns) == ["list", *scores.columns, *added, "unit", "rank"]
    many = _scores(300, 3, 2, seed=0)  # the default seed is 0
    pd.testing.assert_frame_equal(rank_for_verification(many, 60), rank_for_verification(many, 60, seed=0))
    with pytest.raises(ValueError, match="audit_share"):
        rank_for_verification(scores, 7, audit_share=1.0)


def test_lists_share_the_visits_by_their_expected_errors_or_evenly():
    scores = _units(("inclusion", "A", 1, [0.15] * 4, 1_000_000), ("exclusion", "A", 1, [0.05] * 4, 1_000_000))
    kw = {"audit_share": 0, "inclusion_share": None, "priority": "probability"}
    ranked = rank_for_verification(scores, 4, **kw)
    assert ranked.list.value_counts().to_dict() == {"inclusion": 3, "exclusion": 1}
    # one unit per list: the visits find what random visits would, under one expected error each
    assert summarize_lists(ranked, scores).gain_vs_random.tolist() == pytest.approx([1.0, 1.0])
    none_expected = scores.assign(error_score=0.0)
    assert rank_for_verification(none_expected, 4, **kw).list.value_counts().to_dict() == {
        "inclusion": 2,
        "exclusion": 2,
    }


def test_meeting_agenda_by_hand():
    scores = _units(
        ("inclusion", "A", 1, [0.5, 0.4], 1_000_000),
        ("exclusion", "A", 2, [0.7], 1_000_000),
        ("exclusion", "A", 1, [0.6], 3_000_000),
    )
    agenda = meeting_agenda(scores, 5)
    got = agenda[["list", "village_code", "family_id", "rank"]].to_numpy().tolist()
    # villages in code order, worth first over both lists, an error score of exactly 0.5 discussed
    assert got == [["exclusion", "A1", "eA1-0", 1], ["inclusion", "A1", "iA1-0", 2], ["exclusion", "A2", "eA2-0", 1]]
    assert agenda.audit.dtype == bool and not agenda.audit.any() and agenda.columns[0] == "list"
    pd.testing.assert_index_equal(agenda.index, pd.RangeIndex(len(agenda)))
    assert len(meeting_agenda(_units(("inclusion", "C", 1, [0.9] * 25, 1_000_000)))) == 20  # by default


def test_audit_margins_by_hand():
    from scipy.stats import norm

    from pkh_targeting.verification import audit_margins, rate_margin

    z = norm.ppf(0.975)
    assert rate_margin(100, 1000) == pytest.approx(z * np.sqrt(0.25 / 100) * np.sqrt(900 / 999))
    assert rate_margin(1, 2) == pytest.approx(z * 0.5)  # one of two: the other one is unknown
    assert rate_margin(1, 1) == 0.0 and rate_margin(7, 7) == 0.0  # everyone seen: no error
    assert np.isfinite(rate_margin(1, 10)) and rate_margin(0, 10) == float("inf")
    scores = _scores(3_000, 10, 2, seed=5)
    ranked = rank_for_verification(scores, 500, audit_share=0.2, inclusion_share=0.3, seed=0)
    pool = candidates(scores)
    got = audit_margins(ranked, scores, confidence=0.9)
    assert list(got.columns) == [
        "list", "audit_visits", "left_out", "error_rate_margin", "estimates", "margin", "confidence",
    ]  # fmt: skip
    denominators = {"inclusion": (pool.error_type == "inclusion").sum(), "exclusion": pool.p_eligible.sum()}
    for row in got.itertuples():
        mine = ranked[ranked.list == row.list]
        left_out = (pool.error_type == row.list).sum() - (~mine.audit).sum()
        assert (row.audit_visits, row.left_out) == (mine.audit.sum(), left_out), row.list
        assert row.error_rate_margin == pytest.approx(rate_margin(row.audit_visits, left_out, 0.9))
        assert row.margin == pytest.approx(row.error_rate_margin * left_out / denominators[row.list])
        assert row.confidence == 0.9
    assert got.estimates.tolist() == ["leakage", "undercoverage"]
    assert got.audit_visits.tolist() == [30, 70]  # 100 audit visits, 30% of them to the inclusion list
