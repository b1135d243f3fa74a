"""The prior the classifier boosts from: welfare estimated from surveyed consumption, and the
corrections for who gets verified: inverse-probability weights and the shift of their labels."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ._cv import grouped_folds
from ._welfare import WelfareModel


def fit_welfare(X, real, surveyed, groups, threshold: float, config):
    """Fit the configured `WelfareModel` on the surveyed families' welfare relative to ``threshold``.

    Returns
    -------
    welfare : WelfareModel
    sigma : float
        Out-of-fold standard error of its log estimate.
    gap : ndarray
        Its log estimate for every family, out of fold for the surveyed ones.
    baseline : ndarray
        The OLS proxy-means baseline on the same folds: P(welfare below the threshold), NaN where
        not surveyed.
    """
    cfg = config.welfare
    params = cfg.lightgbm.model_dump()
    params.pop("early_stopping_rounds")
    model = WelfareModel(
        cfg.kind,
        categorical_features=["province"],
        lightgbm_params=params,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    )
    Xs, ys, gs = X[surveyed], real[surveyed] / threshold, groups[surveyed]
    ols = WelfareModel("ols", categorical_features=["province"])
    oof, oof_ols = np.full(len(ys), np.nan), np.full(len(ys), np.nan)
    for train, test in grouped_folds(gs, config.cv.n_splits):
        for m, out in ((model, oof), (ols, oof_ols)):
            out[test] = clone(m).fit(Xs.iloc[train], ys[train], groups=gs[train]).predict_log(Xs.iloc[test])
    welfare = model.fit(Xs, ys, groups=gs)
    sigma = float(np.std(np.log(ys) - oof))
    baseline = np.full(len(X), np.nan)
    baseline[surveyed] = norm.cdf(-oof_ols / np.std(np.log(ys) - oof_ols))
    gap = welfare.predict_log(X)
    gap[surveyed] = oof
    return welfare, sigma, gap.astype(np.float32), baseline


def prior_log_odds(welfare_gap, sigma: float) -> np.ndarray:
    """Log-odds that welfare is below the threshold, from the welfare estimate and its out-of-fold
    error (normal on the log scale)."""
    p = norm.cdf(-np.asarray(welfare_gap, dtype=np.float64) / sigma)
    return logit(np.clip(p, 1e-4, 1 - 1e-4))


def selection_weights(X, verified, has, clip: float) -> np.ndarray:
    """Inverse probability of verification, from a logistic selection model on all families,
    clipped at the ``clip`` quantile and normalised to mean 1 over verified families with a component."""
    Z = StandardScaler().fit_transform(X.fillna(X.median()).to_numpy(dtype=np.float64))
    sel = LogisticRegression(C=0.1, max_iter=2000).fit(Z, verified)
    p = np.clip(sel.predict_proba(Z)[:, 1], 1e-4, 1)
    w = 1 / p
    cap = np.quantile(w[verified & has], clip)
    w = np.minimum(w, cap)
    return w / w[verified & has].mean()


def selection_shift(y, prior, w, beneficiary, sample) -> tuple[np.ndarray, dict]:
    """How much more often the labelled families outside the random ``sample`` are eligible than
    sampled families of the same status and ``prior`` log-odds (None: 0): verified families are
    selected partly on their eligibility (complaints come more from the eligible, objections name
    the ineligible), which weights on the features cannot correct.

    A logistic regression with the prior as offset, an intercept per status and a shift per status
    for the rows outside the sample (a status without rows of both kinds gets none). Returns each
    row's shift (0 in the sample), the trees' offset in training, and the shift by status.
    """
    y, w, sample = np.asarray(y, np.float64), np.asarray(w, np.float64), np.asarray(sample, bool)
    status = np.nan_to_num(np.asarray(beneficiary, dtype=np.float64)) > 0
    prior = np.zeros(len(y)) if prior is None else np.asarray(prior, np.float64)
    levels = [v for v in (False, True) if (sample & (status == v)).any() and (~sample & (status == v)).any()]
    if not levels:
        return np.zeros(len(y)), {}
    Z = np.column_stack([status == v for v in levels] + [(status == v) & ~sample for v in levels]).astype(float)
    beta = np.zeros(Z.shape[1])
    for _ in range(50):  # Newton's method, with a unit ridge: finite where a status is all of one label
        q = expit(prior + Z @ beta)
        step = np.linalg.solve((Z * (w * q * (1 - q))[:, None]).T @ Z + np.eye(len(beta)), Z.T @ (w * (y - q)) - beta)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    shift = dict(zip(levels, beta[len(levels) :]))
    offset = np.where(sample, 0.0, [shift.get(v, 0.0) for v in status])
    return offset, {("beneficiaries" if v else "others"): float(b) for v, b in shift.items()}
