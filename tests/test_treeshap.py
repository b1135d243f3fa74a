import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pkh_targeting.treeshap import contributions, raw_scores


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 5, n)).astype(float),  # missing values
            "c": np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n)),  # many zeros
            "d": pd.Categorical(rng.choice(["x", "y", "z", "w"], n)),
            "e": rng.integers(0, 3, n).astype(np.float32),
        }
    )
    y = X.a + (X.b.fillna(2) > 2) + 0.5 * (X.d == "y") - X.c + rng.normal(0, 0.3, n)
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 7, "max_depth": 3, "objective": "regression"},
        {"num_leaves": 31, "objective": "binary"},  # trees split in groups of leaves
        {"num_leaves": 60, "objective": "regression", "min_data_in_leaf": 1},  # leaves deeper than a group
        {"num_leaves": 7, "objective": "regression", "zero_as_missing": True},
        {"num_leaves": 5, "objective": "regression", "use_missing": False},
    ],
)
def test_equals_lightgbm_pred_contrib(params):
    X, y = _data(3000)
    if params["objective"] == "binary":
        y = y > y.median()
    booster = lgb.train({"verbose": -1, "min_data_in_leaf": 5, **params}, lgb.Dataset(X, y), num_boost_round=40)
    new, _ = _data(4000, seed=1)
    new.loc[:9, "d"] = np.nan  # categories unseen or missing
    expected = booster.predict(new, pred_contrib=True)
    got = contributions(booster, new)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(new, raw_score=True), atol=1e-9)


@pytest.mark.parametrize("params", [{"num_leaves": 7, "max_depth": 3}, {"num_leaves": 60, "min_data_in_leaf": 1}])
def test_raw_scores_equal_lightgbm_predict(params):
    X, y = _data(3000)
    booster = lgb.train({"verbose": -1, "objective": "regression", **params}, lgb.Dataset(X, y), num_boost_round=60)
    new, _ = _data(4000, seed=2)
    new.loc[:9, "d"] = np.nan
    np.testing.assert_allclose(raw_scores(booster, new), booster.predict(new, raw_score=True), rtol=0, atol=1e-12)
