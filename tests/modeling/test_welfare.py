import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from pkh_targeting.modeling import WelfareModel
from pkh_targeting.modeling._design import DENSE_CELLS
from pkh_targeting.modeling._welfare_state import welfare_from_state, welfare_state


@pytest.fixture
def survey():
    """A researcher's own table: columns of their choosing, one text category."""
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame(
        {
            "rooms": rng.integers(1, 7, n).astype(float),
            "tv": rng.random(n) < 0.5,
            "island": rng.choice(["jawa", "sumatra", "papua"], n),
            "urban": rng.random(n) < 0.5,
        }
    )
    X.loc[rng.random(n) < 0.05, "rooms"] = np.nan
    log_y = (
        13 + 0.15 * X.rooms.fillna(3) + 0.3 * X.tv + np.select([X.island == "papua"], [-0.4], 0) + rng.normal(0, 0.3, n)
    )
    return X, np.exp(log_y)


def test_ols_recovers_the_pmt_coefficients(survey):
    X, y = survey
    m = WelfareModel("ols").fit(X, y)
    part = m.models_[None]
    coef = dict(
        zip(part["design"].numeric + [f"island={v}" for v in part["design"].levels["island"]], part["ols"].coef_)
    )
    assert coef["rooms"] == pytest.approx(0.15, abs=0.02)
    assert coef["tv"] == pytest.approx(0.3, abs=0.03)
    assert coef["island=papua"] == pytest.approx(-0.4, abs=0.05)
    assert m.score(X, y) > 0.5
    # predictions are rupiah, retransformed with a smearing factor above one
    assert m.smearing_ > 1 and np.median(m.predict(X)) == pytest.approx(np.median(y), rel=0.1)


@pytest.mark.parametrize("kind", ["ols", "lightgbm", "kernel", "stacked", "auto"])
def test_kinds_fit_predict_and_round_trip_through_json(kind, survey):
    X, y = survey
    m = WelfareModel(kind, split_by="urban").fit(X, y, groups=np.arange(len(X)) % 7)
    back = welfare_from_state(welfare_state(m))
    np.testing.assert_allclose(back.predict(X), m.predict(X), rtol=1e-9)
    assert back.selection_ == m.selection_ and set(m.selection_) == {False, True}
    assert m.score(X, y) > 0.4


@pytest.mark.parametrize("kind", ["lightgbm", "kernel", "stacked"])
def test_survey_weights_of_any_scale_give_the_same_model(kind, survey):
    """Susenas' weights sum to the population: the trees' and the kernel's penalties must not fade."""
    X, y = survey
    w = np.random.default_rng(3).uniform(50, 500, len(y))
    fits = [WelfareModel(kind).fit(X, y, sample_weight=k * w).predict_log(X) for k in (1, 1 / w.mean())]
    np.testing.assert_allclose(fits[0], fits[1], atol=1e-9)
    unweighted = WelfareModel(kind).fit(X, y).predict_log(X)
    assert not np.allclose(fits[0], unweighted, atol=1e-3)


@pytest.mark.parametrize("weighted", [False, True])
def test_ols_with_village_codes_is_least_squares_on_a_sparse_design(weighted):
    """Village codes of a national survey make a design too big to be dense: above the limit it is
    solved sparse, and must still be the (weighted) least-squares solution (nested codes: collinear
    columns)."""
    rng = np.random.default_rng(1)
    n, villages = 24_000, 1_200
    village = rng.integers(0, villages, n)
    X = pd.DataFrame(
        {
            "rooms": rng.integers(1, 7, n).astype(float),
            "floor_m2": rng.gamma(4, 12, n),
            "district": (village // 40).astype(str),
            "village": village.astype(str),
        }
    )
    log_y = 13 + 0.15 * X.rooms + 0.004 * X.floor_m2 + rng.normal(0, 0.3, villages)[village] + rng.normal(0, 0.3, n)
    w = rng.gamma(2, 50, n) if weighted else np.ones(n)
    m = WelfareModel("ols").fit(X, np.exp(log_y), sample_weight=w if weighted else None)
    Z = m.models_[None]["design"].transform(X)
    assert Z.shape[0] * Z.shape[1] > DENSE_CELLS
    Z, root = np.column_stack([np.ones(n), Z.toarray()]), np.sqrt(w)
    beta = np.linalg.lstsq(Z * root[:, None], log_y * root, rcond=None)[0]
    np.testing.assert_allclose(m.predict_log(X), Z @ beta, atol=1e-8)
    contrib, base = m.contributions(X)
    np.testing.assert_allclose(contrib.sum(axis=1) + base, m.predict_log(X), atol=1e-9)
    assert contrib["village"].std() > contrib["rooms"].std() > 0


def test_stacking_weights_are_a_convex_blend(survey):
    X, y = survey
    m = WelfareModel("stacked").fit(X, y)
    w = m.models_[None]["weights"]
    assert all(v >= 0 for v in w) and sum(w) == pytest.approx(1.0)


def test_bad_targets_and_kinds_are_refused(survey):
    X, y = survey
    with pytest.raises(ValueError, match="positive"):
        WelfareModel("ols").fit(X, -y)
    with pytest.raises(ValueError, match="kind must be one of"):
        WelfareModel("forest").fit(X, y)
    with pytest.raises(ValueError, match="split_by column 'area'"):
        WelfareModel("ols", split_by="area").fit(X, y)
    ratio = X.rooms.where(X.index != 7, np.inf)  # a ratio divided by zero
    with pytest.raises(ValueError, match="column 'rooms' is infinite at row 7"):
        WelfareModel("ols").fit(X.assign(rooms=ratio), y)
    fitted = WelfareModel("ols").fit(X, y)
    with pytest.raises(ValueError, match="column 'rooms' is infinite at row 7"):
        fitted.predict(X.assign(rooms=ratio))
    with pytest.raises(ValueError, match="column 'built' holds dates"):
        WelfareModel("auto").fit(X.assign(built=pd.Timestamp("2020-01-01")), y)


def test_codes_of_several_types_are_categories_as_text_would_be(survey):
    """A spreadsheet column of codes read as 1, 2 and "3b": one category each, as if all were text."""
    X, y = survey
    codes = pd.Series([[1, 2, "3b"][i % 3] for i in range(len(X))], index=X.index, dtype=object)
    for kind in ("ols", "lightgbm"):
        mixed = WelfareModel(kind).fit(X.assign(code=codes), y)
        text = WelfareModel(kind).fit(X.assign(code=codes.astype(str)), y)
        np.testing.assert_allclose(mixed.predict(X.assign(code=codes)), text.predict(X.assign(code=codes.astype(str))))


def test_a_folds_trees_predicted_once_by_lightgbm_equal_the_models_own_predictions(survey):
    """Out-of-fold predictions come from LightGBM's predict (`_predict_once`), the fitted model's from
    the TreeSHAP tables: the same numbers, with missing values and a category unseen in fit."""
    X, y = survey
    Xt = X.head(500).assign(island=lambda d: d.island.where(d.index % 5 > 0, "bali"))
    for kind in ("lightgbm", "ols"):
        m = WelfareModel(kind).fit(X.iloc[500:], y[500:])
        np.testing.assert_allclose(WelfareModel._predict_once(m.models_[None], Xt), m.predict_log(Xt), rtol=1e-13)


def _expected_failures(estimator):
    survey = "survey weights, scaled to mean one: the penalties are not those of repeated rows"
    reasons = {  # "auto" keeps OLS on a sample this small
        "stacked": "the blend's folds split rows: a repeated row can fall in two folds, a weighted one in one",
        "kernel": survey,  # LightGBM makes no split on a sample this small
    }
    reason = reasons.get(estimator.kind)
    return {"check_sample_weight_equivalence_on_dense_data": reason} if reason else {}


@parametrize_with_checks(
    [WelfareModel(k) for k in ("ols", "lightgbm", "kernel", "stacked", "auto")],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def test_the_threads_change_no_prediction(survey, monkeypatch):
    from pkh_targeting.modeling._lightgbm import threads

    X, y = survey[:2]
    one, two = (WelfareModel("stacked", n_jobs=n).fit(X, y).predict_log(X) for n in (1, 2))
    np.testing.assert_array_equal(one, two)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads() == 3 and WelfareModel("lightgbm").fit(X, y).models_[None]["lgbm"].get_params()["n_jobs"] == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads() >= 1
