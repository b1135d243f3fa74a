import numpy as np
import pandas as pd
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge

from pkh_targeting.modeling import WelfareModel
from pkh_targeting.modeling._kernel import CHUNK, KernelRidge


def table(n, seed=0):
    """Welfare that rises with an interaction of two columns: no additive formula has it."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.integers(0, 2, n).astype(float)})
    X["area"] = rng.choice(["x", "y"], n)
    log_y = 13 + 0.3 * X.a * X.b + 0.2 * X.c + 0.3 * (X.area == "y") + rng.normal(0, 0.2, n)
    return X, log_y.to_numpy()


def test_it_is_ridge_on_nystroem_features_summed_by_chunks():
    """More rows than a chunk, weighted: the same fit as scikit-learn's Ridge on the whole matrix."""
    X, log_y = table(CHUNK * 2 + 100)
    w = np.random.default_rng(1).integers(1, 4, len(X)).astype(float)
    cols = ["a", "b", "c"]
    m = KernelRidge(cols, landmarks=300, random_state=2).fit(X, log_y, w)
    Z = X[cols].to_numpy()
    mean = np.average(Z, axis=0, weights=w)
    Z = (Z - mean) / np.sqrt(np.average((Z - mean) ** 2, axis=0, weights=w))
    features = Nystroem(gamma=1 / 3, n_components=300, random_state=2).fit(Z)
    ridge = Ridge(1.0).fit(features.transform(Z), log_y, sample_weight=w)
    # normal equations against scikit-learn's solver: equal to the conditioning of 300 landmarks
    np.testing.assert_allclose(m.predict(X), ridge.predict(features.transform(Z)), atol=1e-5)


def test_missing_values_are_the_training_median_and_text_is_left_out():
    X, log_y = table(800)
    X.loc[:99, "a"] = np.nan
    m = KernelRidge(["a", "b", "c"]).fit(X, log_y)
    filled = X.assign(a=X.a.fillna(X.a.median()))
    np.testing.assert_allclose(m.predict(X), m.predict(filled))
    contrib, _ = m.contributions(X)
    assert (contrib[:, X.columns.get_loc("area")] == 0).all()


def test_contributions_share_each_terms_change_by_its_exponent_and_add_up():
    X, log_y = table(1000)
    cols = ["a", "b", "c"]
    m = KernelRidge(cols, landmarks=50).fit(X, log_y)
    rows = X.iloc[:5]
    contrib, base = m.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1) + base, m.predict(rows), atol=1e-10)
    means = pd.DataFrame([m.mean_] * len(rows), columns=cols, index=rows.index).assign(area=rows.area)
    np.testing.assert_allclose(base, m.predict(means), atol=1e-12)
    z = ((rows[cols] - m.mean_) / m.scale_).to_numpy()
    expected = np.zeros_like(z)
    for landmark, coef in zip(m.landmarks_, m.coef_):  # the rule, term by term
        exponent = -m.gamma_ * ((z - landmark) ** 2 - landmark**2)  # each column's change of it
        term = coef * np.exp(-m.gamma_ * ((z - landmark) ** 2).sum(axis=1))
        change = term - coef * np.exp(-m.gamma_ * (landmark**2).sum())
        expected += change[:, None] * exponent / exponent.sum(axis=1)[:, None]
    np.testing.assert_allclose(contrib[:, :3], expected, atol=1e-10)
    assert (contrib[:, 3] == 0).all()  # the text column


def test_near_the_means_the_parts_are_the_gradient_times_the_step():
    """Where the exponents change little, the parts are the Shapley values of a linear function."""
    X, log_y = table(1000)
    cols = ["a", "b", "c"]
    m = KernelRidge(cols).fit(X, log_y)
    step = np.array([1e-4, -2e-4, 3e-4]) * m.scale_
    near, midway = (pd.DataFrame([m.mean_ + k * step], columns=cols).assign(area="x") for k in (1, 0.5))
    contrib, _ = m.contributions(near)
    for j, col in enumerate(cols):
        h = 1e-4 * m.scale_[j]
        up, down = midway.assign(**{col: midway[col] + h}), midway.assign(**{col: midway[col] - h})
        gradient = (m.predict(up) - m.predict(down)) / (2 * h)
        np.testing.assert_allclose(contrib[0, j], gradient[0] * step[j], rtol=1e-4)


def test_the_kernel_finds_an_interaction_ols_misses_and_the_stack_uses_it():
    X, y = table(3000)
    Xt, yt = table(2000, seed=1)
    kernel, ols = WelfareModel("kernel").fit(X, np.exp(y)), WelfareModel("ols").fit(X, np.exp(y))
    assert kernel.score(Xt, yt, log=True) > ols.score(Xt, yt, log=True) + 0.1
    stacked = WelfareModel("stacked").fit(X, np.exp(y))
    assert stacked.models_[None]["weights"][2] > 0.3  # ols, lightgbm, kernel
    contrib, base = stacked.contributions(Xt)
    np.testing.assert_allclose(contrib.sum(axis=1) + base, stacked.predict_log(Xt), atol=1e-9)
