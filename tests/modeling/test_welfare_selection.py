"""The default WelfareModel chooses between OLS and the stack out of sample, on its training rows only."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold

from pkh_targeting.config import TrainConfig
from pkh_targeting.metrics import targeting_loss, undercoverage_at
from pkh_targeting.modeling import WelfareModel
from pkh_targeting.modeling._prior import fit_welfare

ALATAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "alatas-2012"


def table(n, seed=0, nonlinear=True):
    """A survey whose welfare has a threshold in household size that a linear PMT misses."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"size": rng.integers(1, 10, n).astype(float), "floor": rng.random(n), "tv": rng.random(n) < 0.4})
    log_y = 13 + 0.5 * X.floor + 0.3 * X.tv - (0.6 * (X["size"] >= 6) if nonlinear else 0.08 * X["size"])
    return X, np.exp(log_y + rng.normal(0, 0.3, n)), rng.integers(0, 60, n)


def test_undercoverage_counts_the_poorest_left_out():
    log_y = np.arange(10.0)
    assert undercoverage_at(log_y, log_y, 0.3) == 0.0
    assert undercoverage_at(log_y, -log_y, 0.3) == 1.0
    assert undercoverage_at(log_y, np.array([0, 9, 2, 3, 4, 5, 6, 7, 8, 1.0]), 0.3) == pytest.approx(1 / 3)
    assert targeting_loss(log_y, log_y) == 0.0


def test_survey_weights_make_the_shares_of_the_population():
    log_y, predicted = np.arange(10.0), np.array([5, 0, 1, 2, 3, 4, 6, 7, 8, 9.0])
    w = np.array([3.0] + [1.0] * 9)  # the poorest family stands for three: it alone is the poorest 25%
    assert undercoverage_at(log_y, predicted, 0.25) == pytest.approx(1 / 3)  # 2.5 families: the third is in by half
    assert undercoverage_at(log_y, predicted, 0.25, weights=w) == 1.0
    rng = np.random.default_rng(0)
    log_y, predicted, w = rng.normal(size=300), rng.normal(size=300), rng.integers(0, 4, 300).astype(float)
    kept = w > 0  # a family of weight zero counts as absent
    for share in (0.2, 0.3, 0.4):
        assert undercoverage_at(log_y, predicted, share, w) == undercoverage_at(
            log_y[kept], predicted[kept], share, w[kept]
        )


def test_the_choice_is_judged_on_the_weighted_population():
    """Families of weight zero have welfare unrelated to their indicators: only the weighted
    population, where OLS is exact, may count in the losses behind the choice."""
    rng = np.random.default_rng(5)
    n = 1200
    X = pd.DataFrame({"a": rng.random(n), "b": rng.random(n)})
    w = (np.arange(n) % 2).astype(float)
    log_y = np.where(w > 0, 1 + X.a + 2 * X.b + rng.normal(0, 0.01, n), rng.normal(0, 3, n))
    loss = WelfareModel().fit(X, np.exp(log_y), sample_weight=w).selection_[None]["loss"]
    assert loss["ols"] < 0.05


def test_the_stack_is_chosen_where_it_beats_ols_out_of_sample():
    X, y, g = table(4000)
    m = WelfareModel().fit(X, y, groups=g)
    sel = m.selection_[None]
    assert sel["kind"] == "stacked" and sel["reason"] == "grouped cross-validation"
    assert sel["loss"]["stacked"] < sel["loss"]["ols"]
    Xt, yt, _ = table(4000, seed=1)
    ols = WelfareModel("ols").fit(X, y)
    assert targeting_loss(np.log(yt), m.predict_log(Xt)) < targeting_loss(np.log(yt), ols.predict_log(Xt)) - 0.02


def test_a_small_sample_is_ols():
    X, y, g = table(300)
    m = WelfareModel().fit(X, y, groups=g)
    assert m.selection_[None] == {"kind": "ols", "reason": "small sample"}
    np.testing.assert_allclose(m.predict_log(X), WelfareModel("ols").fit(X, y).predict_log(X))


def test_the_choice_is_the_same_for_the_same_seed():
    X, y, g = table(1500, seed=3)
    a, b = WelfareModel(random_state=4).fit(X, y, groups=g), WelfareModel(random_state=4).fit(X, y, groups=g)
    assert a.selection_ == b.selection_
    np.testing.assert_array_equal(a.predict_log(X), b.predict_log(X))


def test_the_outer_folds_never_see_their_own_rows():
    """Out-of-fold welfare estimates of a regency do not move when its own consumption changes:
    the choice inside each fit is made on the other regencies alone."""
    X, y, g = table(2500, seed=5)
    surveyed = np.ones(len(y), bool)
    config = TrainConfig(cv={"n_splits": 3})
    X = X.assign(province="a")
    _, _, gap, _ = fit_welfare(X, y, surveyed, g, 1.0, config)
    held = next(GroupKFold(3).split(X, y, g))[1]
    changed = y.copy()
    changed[held] = changed[held][::-1]  # the held-out regencies' consumption, shuffled
    welfare, _, gap2, _ = fit_welfare(X, changed, surveyed, g, 1.0, config)
    np.testing.assert_array_equal(gap[held], gap2[held])
    assert not np.allclose(gap[np.setdiff1d(np.arange(len(y)), held)], gap2[np.setdiff1d(np.arange(len(y)), held)])


@pytest.mark.skipif(not ALATAS.exists(), reason="the Alatas et al. (2012) extract is not in ../shared/data")
def test_the_default_loses_nothing_to_ols_on_the_alatas_survey():
    d = pd.read_csv(ALATAS / "alatas.csv")
    v = pd.read_csv(ALATAS / "variables.csv")
    # the PMT indicators and the nested area codes as categories (location effects); the folds hold
    # out whole enumeration areas, whose subdistricts other areas share
    province = d["province"].astype(str)
    district = province + "/" + d["district"].astype(str)
    subdistrict = district + "/" + d["subdistrict"].astype(str)
    X = d[v.loc[v.Order.notna(), "Name"]].assign(province=province, district=district, subdistrict=subdistrict)
    y, g = d["consumption"].to_numpy(float), d["ea"].to_numpy()
    oof = {k: np.empty(len(y)) for k in ("auto", "ols")}
    for train, test in GroupKFold(5, shuffle=True, random_state=0).split(X, y, g):
        for kind, out in oof.items():
            out[test] = WelfareModel(kind).fit(X.iloc[train], y[train], groups=g[train]).predict_log(X.iloc[test])
    for share in (0.2, 0.3, 0.4):
        default, ols = (undercoverage_at(np.log(y), oof[k], share) for k in ("auto", "ols"))
        assert default <= ols + 0.004, (share, default, ols)
    assert targeting_loss(np.log(y), oof["auto"]) < targeting_loss(np.log(y), oof["ols"])
    # issue #22's bar at 30%: at most 0.364, and 0.011 below OLS (0.362 and 0.378 on these folds)
    default, ols = (undercoverage_at(np.log(y), oof[k], 0.3) for k in ("auto", "ols"))
    assert default <= 0.364 and default <= ols - 0.011, (default, ols)
