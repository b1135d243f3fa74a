"""Grouped cross-validation with early stopping on groups the model has not seen."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from scipy.special import expit
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from ._lightgbm import lgbm_params


def grouped_folds(groups, n_splits: int):
    """GroupKFold splits, with fewer folds when there are fewer groups."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"grouped cross-validation needs at least 2 groups, got {n_groups}.")
    return list(GroupKFold(n_splits=min(n_splits, n_groups)).split(np.zeros(len(groups)), groups=groups))


def _train(X, y, w, init, params, rounds, valid=None, stopping=None):
    data = lgb.Dataset(X, y, weight=w, init_score=init, free_raw_data=False)
    kwargs = {}
    if valid is not None:
        kwargs = {
            "valid_sets": [lgb.Dataset(valid[0], valid[1], weight=valid[2], init_score=valid[3], reference=data)],
            "callbacks": [lgb.early_stopping(stopping, verbose=False)],
        }
    return lgb.train(params, data, num_boost_round=rounds, **kwargs)


def grouped_lgbm_classifier(
    X, y, w, groups, params: dict, *, n_splits: int, seed: int, n_jobs: int | None, init_score=None, offset=None
):
    """Out-of-fold probabilities (folds by group, early stopping on held-out groups inside each
    training fold) and a final booster trained on all rows with the mean number of trees found.

    ``init_score`` (log-odds) is a prior the trees boost from: its out-of-fold probabilities
    include it, and so must predictions of the final booster (``raw_score=True`` plus the prior).
    ``offset`` (log-odds) is added to the prior in training only: how the labelled rows were selected.
    """
    prior = np.zeros(len(y)) if init_score is None else np.asarray(init_score, dtype=np.float64)
    init = prior if offset is None else prior + offset
    y = np.asarray(y, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    groups = np.asarray(groups)
    params = dict(params)
    rounds = params.pop("n_estimators", 500)
    stopping = params.pop("early_stopping_rounds", 50)
    native = lgbm_params(params, objective="binary", random_state=seed, n_jobs=n_jobs)
    oof = np.full(len(y), np.nan)
    iterations = []
    for train, test in grouped_folds(groups, n_splits):
        inner = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
        fit_i, stop_i = (train[i] for i in next(inner.split(train, groups=groups[train])))
        booster = _train(
            X.iloc[fit_i],
            y[fit_i],
            w[fit_i],
            init[fit_i],
            native,
            rounds,
            valid=(X.iloc[stop_i], y[stop_i], w[stop_i], init[stop_i]),
            stopping=stopping,
        )
        iterations.append(max(booster.best_iteration, 1))
        oof[test] = expit(booster.predict(X.iloc[test], num_iteration=iterations[-1], raw_score=True) + prior[test])
    final = _train(X, y, w, init, native, int(round(np.mean(iterations))))
    return oof, final, iterations
