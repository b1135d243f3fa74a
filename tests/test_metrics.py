import numpy as np
import pandas as pd
import pytest

from pkh_targeting.exceptions import SmallGroupWarning
from pkh_targeting.metrics import (
    auc,
    bootstrap_ci,
    calibration_summary,
    group_errors,
    pmt_accuracy_table,
    precision_at,
    ranking_table,
    recall_at,
    reliability_table,
    standard_groups,
    targeting_errors,
)


def test_targeting_errors_by_hand():
    # 10 families: 4 eligible (0-3); 3 receive (3-5): one right, two leaks, three left out
    eligible = np.arange(10) < 4
    receives = (np.arange(10) >= 3) & (np.arange(10) < 6)
    e = targeting_errors(eligible, receives)
    assert e["leakage"] == 2 / 3  # 4, 5 receive but are not eligible
    assert e["undercoverage"] == 3 / 4  # 0, 1, 2 eligible but excluded
    assert e["inclusion_error_rate"] == 2 / 6  # of the 6 not eligible, 2 receive
    assert e["exclusion_error_rate"] == 3 / 4
    assert e["mistargeting_rate"] == 5 / 10
    assert e["coverage_share"] == 3 / 10 and e["eligible_share"] == 4 / 10
    w = np.where(np.arange(10) == 4, 3.0, 1.0)  # weights count
    assert targeting_errors(eligible, receives, weights=w)["leakage"] == 4 / 5
    # 0/1 codes mean what booleans mean; a rate of nobody is undefined, not 0
    assert targeting_errors(eligible.astype(int), receives.astype(int)) == e
    nobody = targeting_errors(eligible, np.zeros(10, bool))
    assert np.isnan(nobody["leakage"]) and nobody["undercoverage"] == 1.0


def test_top_shares_break_ties_by_position():
    from pkh_targeting.metrics import top_share

    assert top_share([1, 1, 1, 1], 0.5).tolist() == [True, True, False, False]
    assert top_share([0.1, 0.9, 0.9, 0.2], 0.25).tolist() == [False, True, False, False]
    assert precision_at([0, 1, 0, 1], [1, 1, 1, 1], 0.5) == 0.5 and recall_at([0, 1, 0, 1], [1, 1, 1, 1], 0.5) == 0.5


def test_world_bank_table_perfect_and_random_predictions():
    rng = np.random.default_rng(0)
    c = rng.lognormal(13, 0.6, 5000)
    perfect = pmt_accuracy_table(c, c)
    assert (perfect.accuracy == 1).all() and (perfect.undercoverage == 0).all()
    assert list(perfect.cutoff_percentile.unique()) == [20, 25, 30, 50, 75]
    assert set(perfect.method) == {"fixed poverty line", "fixed poverty rate"}
    noisy = pmt_accuracy_table(c, rng.permutation(c)).query("method == 'fixed poverty rate'")
    assert noisy.set_index("cutoff_percentile").undercoverage[20] == pytest.approx(0.8, abs=0.03)


def test_precision_recall_at_top_share():
    err = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], bool)
    score = np.arange(10)[::-1]  # family 0 ranked first
    assert precision_at(err, score, 0.2) == 1.0 and precision_at(err, score, 0.5) == 3 / 5
    assert recall_at(err, score, 0.2) == 2 / 3
    tab = ranking_table(err, score)
    assert tab.base_rate.iloc[0] == 0.3 and 0.5 < tab.auc.iloc[0] <= 1


def test_reliability_and_calibration():
    rng = np.random.default_rng(1)
    p = rng.random(20000)
    y = rng.random(20000) < p
    rel = reliability_table(y, p)
    assert len(rel) == 10 and rel.n.sum() == 20000
    assert (rel.observed - rel.mean_predicted).abs().max() < 0.03
    assert calibration_summary(y, p)["ece"] < 0.02
    assert calibration_summary(y, np.clip(p + 0.2, 0, 1))["ece"] > 0.1


def test_cluster_bootstrap_is_wider_for_clustered_data():
    rng = np.random.default_rng(2)
    village = np.repeat(np.arange(50), 40)
    y = rng.random(2000) < rng.uniform(0.05, 0.6, 50)[village]  # outcomes shared within villages
    iid = bootstrap_ci(np.mean, y, n_boot=300)
    clustered = bootstrap_ci(np.mean, y, clusters=village, n_boot=300)
    assert clustered["high"] - clustered["low"] > 1.5 * (iid["high"] - iid["low"])
    assert clustered["low"] < y.mean() < clustered["high"]


def test_group_errors_keep_and_flag_small_groups(small_registry):
    reg = small_registry
    groups = standard_groups(reg.families, reg.members)
    assert list(groups.columns) == ["province", "area", "female_headed", "elderly_headed", "disabled_member"]
    with pytest.warns(SmallGroupWarning, match="too small"):
        out = group_errors(
            reg.truth.eligible,
            reg.truth.receives_pkh,
            groups,
            min_group_size=30,
            clusters=reg.families.village_code,
            n_boot=50,
        )
    assert out.too_small.any() and (~out.too_small).any()
    assert set(out.group) == set(groups.columns)  # nothing dropped
    big = out[~out.too_small]
    assert (big.leakage_low <= big.leakage).all() and (big.leakage <= big.leakage_high).all()
    assert out[out.too_small].leakage_low.isna().all()
    total = out[out.group == "area"]
    assert total.families.sum() == len(reg.families)


def test_group_errors_by_hand():
    # group "a": 100 beneficiaries of whom 20 are not eligible, 100 eligible of whom 20 are left out;
    # group "b": exactly 50 beneficiaries and 50 eligible (the default size limit, not too small), all right;
    # group "c": 49 of each, too small. Codes 0/1, as a survey export has them.
    e = np.r_[np.ones(80), np.zeros(20), np.ones(20), np.ones(50), np.ones(49)].astype(int)
    r = np.r_[np.ones(80), np.ones(20), np.zeros(20), np.ones(50), np.ones(49)].astype(int)
    g = np.repeat(["a", "b", "c"], [120, 50, 49])
    clusters = np.arange(len(e)) // 5
    with pytest.warns(SmallGroupWarning) as caught:
        out = group_errors(e, r, pd.DataFrame({"grp": g, "all": "x"}), clusters=clusters)
    assert str(caught[0].message).endswith("under 50 beneficiaries or eligible families): grp=c")
    assert list(out.columns) == [
        "group", "level", "families", "beneficiaries", "eligible", "leakage", "undercoverage", "too_small",
        "leakage_low", "leakage_high", "undercoverage_low", "undercoverage_high",
    ]  # fmt: skip
    assert out[["group", "level", "families", "beneficiaries", "eligible", "too_small"]].values.tolist() == [
        ["grp", "a", 120, 100, 100, False],
        ["grp", "b", 50, 50, 50, False],
        ["grp", "c", 49, 49, 49, True],
        ["all", "x", 219, 199, 199, False],
    ]
    assert out.leakage.tolist() == pytest.approx([0.2, 0.0, 0.0, 20 / 199])
    assert out.undercoverage.tolist() == pytest.approx([0.2, 0.0, 0.0, 20 / 199])
    assert out.loc[2, ["leakage_low", "leakage_high", "undercoverage_low", "undercoverage_high"]].isna().all()
    a = slice(0, 120)
    leak = bootstrap_ci(lambda y, p: (p & ~y).sum() / p.sum(), e[a] == 1, r[a] == 1, clusters=clusters[a])
    under = bootstrap_ci(lambda y, p: (y & ~p).sum() / y.sum(), e[a] == 1, r[a] == 1, clusters=clusters[a])
    assert out.loc[0, ["leakage_low", "leakage_high"]].tolist() == [leak["low"], leak["high"]]
    assert out.loc[0, ["undercoverage_low", "undercoverage_high"]].tolist() == [under["low"], under["high"]]
    assert out.loc[0, "leakage_low"] < 0.2 < out.loc[0, "leakage_high"]
    fewer = group_errors(e, r, pd.DataFrame({"grp": g}), min_group_size=49, n_boot=20, seed=3)
    assert not fewer.too_small.any()  # 49 of each is enough for a limit of 49
    ci = bootstrap_ci(lambda y, p: (p & ~y).sum() / p.sum(), e[a] == 1, r[a] == 1, n_boot=20, seed=3)
    assert fewer.loc[0, ["leakage_low", "leakage_high"]].tolist() == [ci["low"], ci["high"]]


def test_world_bank_table_weighted_by_hand():
    # four families, the first counting twice: the 40th weighted percentile is family 0 alone
    c, p, w = [1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 4.0], [2.0, 1.0, 1.0, 1.0]
    tab = pmt_accuracy_table(c, p, cutoffs=(40, 100), weights=w)
    assert list(tab.columns) == [
        "cutoff_percentile", "method", "accuracy", "undercoverage", "leakage", "targeted_share",
    ]  # fmt: skip
    assert tab.values.tolist() == [
        # the line is 1: family 1 is predicted below it, family 0 (the poor one) is not
        [40, "fixed poverty line", 0.4, 1.0, 1.0, 0.2],
        # 40% by weight of predictions: families 1 and 0
        [40, "fixed poverty rate", 0.8, 0.0, pytest.approx(1 / 3), 0.6],
        [100, "fixed poverty line", 1.0, 0.0, 0.0, 1.0],
        [100, "fixed poverty rate", 1.0, 0.0, 0.0, 1.0],
    ]
    unweighted = pmt_accuracy_table(c, p, cutoffs=(40,))
    assert unweighted.targeted_share.tolist() == [0.5, 0.5]  # two of four, by head count


def test_ranking_table_columns_and_undefined_auc():
    err, score = [0, 1, 0, 0, 0], [0.1, 0.9, 0.3, 0.2, 0.5]  # codes 0/1; the one error ranked first
    tab = ranking_table(err, score, shares=(0.2, 0.6))
    assert tab.to_dict("list") == {
        "top_share": [0.2, 0.6],
        "precision": [1.0, 1 / 3],
        "recall": [1.0, 1.0],
        "base_rate": [0.2, 0.2],
        "auc": [1.0, 1.0],
    }
    for constant in ([1] * 5, [0] * 5):  # one class only: no AUC
        tab = ranking_table(constant, score)
        assert tab.auc.isna().all() and tab.base_rate.iloc[0] == constant[0]


def test_population_stability_by_hand():
    from pkh_targeting.metrics import bin_counts, feature_bins, population_stability_index

    assert len(feature_bins(np.arange(100.0))["edges"]) == 9  # ten bins by default
    ref = feature_bins(list(range(1, 11)) + [np.nan, np.nan], n_bins=5)
    assert ref["edges"] == pytest.approx([2.8, 4.6, 6.4, 8.2])
    assert ref["shares"] == pytest.approx([2 / 12] * 5 + [2 / 12])  # the last bin holds the missing
    counts = bin_counts([1, 2.8, 2.9, 8.2, 100, np.inf, np.nan], ref["edges"])
    assert counts.tolist() == [1, 2, 0, 0, 2, 2]  # an edge belongs to the bin above it
    assert population_stability_index(ref, list(range(1, 11)) + [np.nan, np.nan]) == 0.0
    a = np.clip(counts / counts.sum(), 1e-4, None)
    e = np.asarray(ref["shares"])
    psi = population_stability_index(ref, counts=counts)
    assert psi == pytest.approx(np.sum((a - e) * np.log(a / e)))
    assert population_stability_index(ref, [1, 2.8, 2.9, 8.2, 100, np.inf, np.nan]) == psi
    assert population_stability_index(ref, counts=counts, eps=0.1) < psi  # empty bins count as eps


def test_reliability_and_calibration_by_hand():
    y, p = [0, 1, 1, 0], [0.05, 0.15, 0.95, 1.0]  # p = 1 falls in the last bin
    rel = reliability_table(y, p)
    assert rel.index.tolist() == ["0.0-0.1", "0.1-0.2", "0.9-1.0"]
    assert rel.to_dict("list") == {
        "mean_predicted": pytest.approx([0.05, 0.15, 0.975]),
        "observed": [0.0, 1.0, 0.5],
        "n": [1, 1, 2],
    }
    assert reliability_table(y, p, n_bins=2).n.tolist() == [2, 2]
    summary = calibration_summary(y, p)
    assert summary["brier"] == pytest.approx((0.05**2 + 0.85**2 + 0.05**2 + 1.0) / 4)
    assert summary["ece"] == pytest.approx((0.05 + 0.85 + 2 * 0.475) / 4)


def test_standard_groups_by_hand():
    families = pd.DataFrame({"family_id": ["A", "B", "C"], "province_code": ["32", "33", "32"], "urban": [1, 0, 0]})
    members = pd.DataFrame(
        {
            "family_id": ["A", "A", "B", "B", "C"],
            "relationship": [1, 3, 1, 1, 3],  # B lists two heads (the first counts); C none
            "sex": [2, 1, 1, 2, 2],
            "age": [60, 10, 59, 70, 40],
            "severe_disability": [False, True, False, False, False],
        }
    )
    g = standard_groups(families, members)
    assert g.index.tolist() == ["A", "B", "C"] and g.index.name == "family_id"
    assert g.to_dict("list") == {
        "province": ["32", "33", "32"],
        "area": ["urban", "rural", "rural"],
        "female_headed": [True, False, False],
        "elderly_headed": [True, False, False],
        "disabled_member": [True, False, False],
    }


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_scikit_learns_with_ties(seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    y = rng.random(500) < 0.2 + 0.1 * seed
    score = np.round(rng.random(500) + 0.5 * y, 1)  # rounded: many ties, within and across classes
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert auc(y, -score) == pytest.approx(1 - roc_auc_score(y, score), abs=1e-12)
    assert np.isnan(auc(np.ones(5, bool), score[:5])) and np.isnan(auc(np.zeros(5, bool), score[:5]))
    assert auc(y.astype(int), score) == auc(y, score)  # labels of 0 and 1, not positions
