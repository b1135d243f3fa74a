"""WelfareModel: predict consumption per capita from any numeric table (proxy-means test)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..metrics import targeting_loss
from ..treeshap import contributions as tree_contributions
from ..treeshap import raw_scores
from ._design import Design, least_squares
from ._kernel import KernelRidge
from ._lightgbm import lgbm_params

KINDS = ("auto", "stacked", "lightgbm", "kernel", "ols")
MEMBERS = ("ols", "lightgbm", "kernel")  # of the stack
# small, slow, regularised trees: survey samples are a few thousand families
DEFAULT_LGBM = {
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 7,
    "max_depth": 3,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "reg_lambda": 10.0,
}
MIN_ROWS_FOR_TREES = 500  # below this, "auto" is OLS without trying trees


class WelfareModel(RegressorMixin, BaseEstimator):
    """Predict consumption per capita (rupiah) from a numeric table, fitting on the log scale.

    ``kind="ols"`` is the World Bank-style proxy-means test: least squares of log consumption on
    the indicators, with one-hot categories and optionally separate models per area
    (``split_by="urban"``). ``kind="lightgbm"`` is small, regularised gradient-boosted trees;
    ``kind="kernel"`` ridge regression on an RBF kernel of the numeric columns (smooth interactions,
    which neither sees). ``kind="stacked"`` blends the three with non-negative weights chosen on
    out-of-fold predictions.

    ``kind="auto"`` (the default) chooses between OLS and the stack inside ``fit``, by grouped
    cross-validation on the training rows only (folds by ``groups`` when given), judged by what
    targeting needs: the mean undercoverage at the quotas 20, 30 and 40% (`targeting_loss`). The
    stack replaces OLS only if it beats it there, with its blend weights cross-fitted too, and a
    sample under 500 rows is OLS without trying: a model that is not better out of sample is the
    proxy-means test. The choice and its fold losses are in ``selection_``. With ``sample_weight``
    (survey weights) the models, the blend and the quotas of the losses are weighted; the weights are
    scaled to mean one, so that weights summing to the population (Susenas') regularise the trees
    and the kernel as weights of one do.

    Works on any survey table: numeric columns are used as they are (missing values imputed by the
    training median for OLS); ``categorical_features`` and text columns are one-hot encoded for OLS
    and categories for the trees. Area codes given as text (in full where they nest) are the
    location effects of a proxy-means formula; their one-hot design is sparse, so thousands of
    village codes fit.
    Predictions are retransformed with Duan's smearing factor so that mean levels are unbiased.

    Parameters
    ----------
    kind : {"auto", "stacked", "lightgbm", "ols"}, default="auto"
    split_by : str, optional
        Column whose values get separate models (e.g. ``"urban"``).
    categorical_features : list of str, optional
    lightgbm_params : dict, optional
        Passed to LightGBM (``n_estimators``, ``learning_rate``, ``num_leaves``...).
    random_state : int, default=0
    n_jobs : int, optional
        LightGBM's threads; by default ``OMP_NUM_THREADS`` where set, else every core.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"rooms": rng.integers(1, 6, 500), "region": rng.choice(["a", "b"], 500)})
    >>> y = np.exp(13 + 0.2 * X.rooms + 0.3 * (X.region == "b") + rng.normal(0, 0.1, 500))
    >>> m = WelfareModel("ols").fit(X, y)
    >>> round(float(m.score(X, np.log(y), log=True)), 2) > 0.8
    True
    """

    def __init__(
        self,
        kind="auto",
        *,
        split_by=None,
        categorical_features=None,
        lightgbm_params=None,
        random_state=0,
        n_jobs=None,
    ):
        self.kind = kind
        self.split_by = split_by
        self.categorical_features = categorical_features
        self.lightgbm_params = lightgbm_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _categorical(self, X):
        cats = list(self.categorical_features or [])
        return cats + [
            c
            for c in X.columns
            if c not in cats and not pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
        ]

    def _parts(self, X):
        if self.split_by is None:
            return [(None, np.ones(len(X), dtype=bool))]
        values = X[self.split_by].to_numpy()
        return [(v, values == v) for v in (self.parts_ if hasattr(self, "parts_") else pd.unique(values))]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True  # consumption: fitted on the log scale
        tags.input_tags.allow_nan = True  # imputed by the training median (OLS); trees route missing values
        tags.input_tags.categorical = True
        tags.input_tags.string = True  # text columns are one-hot encoded
        # trees alone, small and regularised for surveys of thousands, stay under R2 0.5 on 200 rows
        tags.regressor_tags.poor_score = self.kind == "lightgbm"
        return tags

    def _frame(self, X, *, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame, checked as scikit-learn checks (sparse, complex, empty, feature count)."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[1] == 0:
                raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            for c in X.columns:
                _check_column(X[c])
            return X
        arr = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
        return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])

    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit on log ``y``; ``groups`` (e.g. regency codes) make the stacking folds area-based."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")
        if y is None:
            raise ValueError("WelfareModel requires y to be passed, but the target y is None.")
        X = self._frame(X, reset=True)
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False), warn=True)
        check_consistent_length(X, y)
        if len(X) < 2:
            raise ValueError(f"WelfareModel needs at least 2 families, got n_samples = {len(X)}.")
        if (y <= 0).any() or not np.isfinite(y).all():
            raise ValueError("consumption must be positive and finite to fit on the log scale.")
        if self.split_by is not None and self.split_by not in X:
            raise ValueError(f"split_by column {self.split_by!r} is not in X.")
        log_y = np.log(y)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if w is not None:  # all zeros are refused by the check
            w = w / w.mean()
        self.parts_ = list(pd.unique(X[self.split_by].to_numpy())) if self.split_by else [None]
        self.models_ = {}
        for key, mask in self._parts(X):
            Xp = X[mask] if self.split_by is None else X[mask].drop(columns=self.split_by)
            g = None if groups is None else np.asarray(groups)[mask]
            self.models_[key] = self._fit_one(Xp, log_y[mask], None if w is None else w[mask], g)
        resid = log_y - self._predict_frame(X)
        self.smearing_ = float(np.average(np.exp(resid), weights=w))
        return self

    def _fit_one(self, X, log_y, w, groups=None, kind=None):
        kind = kind or self.kind
        cats = self._categorical(X)
        if kind == "auto":
            return self._fit_auto(X, log_y, w, groups)
        if kind == "stacked":
            return self._fit_stacked(X, log_y, w, groups)
        if kind == "ols":
            design = Design(cats).fit(X)
            return {"design": design, "ols": least_squares(design.transform(X), log_y, w)}
        if kind == "kernel":
            numeric = [c for c in X.columns if c not in cats]
            return {"kernel": KernelRidge(numeric, random_state=self.random_state).fit(X, log_y, w)}
        Xl = _as_lgbm(X, cats)
        model = lgb.LGBMRegressor(
            **lgbm_params(
                self.lightgbm_params or DEFAULT_LGBM,
                objective="regression",
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        )
        model.fit(Xl, log_y, sample_weight=w)
        return {"lgbm": model, "categories": {c: list(Xl[c].cat.categories) for c in cats}}

    def _splits(self, X, log_y, groups):
        if groups is not None and len(np.unique(groups)) >= 2:
            n = min(5, len(np.unique(groups)))
            return list(GroupKFold(n, shuffle=True, random_state=self.random_state).split(X, log_y, groups))
        return list(KFold(5, shuffle=True, random_state=self.random_state).split(X, log_y))

    def _out_of_fold(self, X, log_y, w, folds) -> np.ndarray:
        """Out-of-fold log predictions of the stack's members, one column each."""
        oof = np.zeros((len(log_y), len(MEMBERS)))
        for train, test in folds:
            for j, kind in enumerate(MEMBERS):
                part = self._fit_one(X.iloc[train], log_y[train], None if w is None else w[train], kind=kind)
                oof[test, j] = self._predict_once(part, X.iloc[test])
        return oof

    @staticmethod
    def _predict_once(m, X) -> np.ndarray:
        """A fold's model, predicted once: by LightGBM itself, as `raw_scores`' tables pay only for a
        model that predicts again (equal up to the order of floating-point additions)."""
        if "lgbm" in m:
            return m["lgbm"].predict(_as_lgbm(X, list(m["categories"]), m["categories"]), raw_score=True)
        return WelfareModel._predict_one(m, X)

    def _fit_stacked(self, X, log_y, w, groups, oof=None):
        """OLS, LightGBM and the kernel blended with non-negative weights chosen on out-of-fold predictions
        (folds by ``groups`` when given), so the blend is as good as the best of them out of sample."""
        if oof is None:
            oof = self._out_of_fold(X, log_y, w, self._splits(X, log_y, groups))
        weights, intercept = _blend(oof, log_y, w)
        return {
            "stack": [self._fit_one(X, log_y, w, kind=k) for k in MEMBERS],
            "weights": weights.tolist(),
            "intercept": intercept,
        }

    def _fit_auto(self, X, log_y, w, groups):
        """The stack if its grouped out-of-fold `targeting_loss` is below OLS's, OLS otherwise. The
        members alone are measured and reported but not chosen: two candidates keep the choice from
        chasing fold noise, and the stack leans on a member where it is better."""
        if len(log_y) < MIN_ROWS_FOR_TREES:
            return {**self._fit_one(X, log_y, w, kind="ols"), "selection": {"kind": "ols", "reason": "small sample"}}
        folds = self._splits(X, log_y, groups)
        oof = self._out_of_fold(X, log_y, w, folds)
        stacked = np.empty(len(log_y))
        for train, test in folds:  # blend weights cross-fitted too: the choice sees no fold twice
            weights, intercept = _blend(oof[train], log_y[train], None if w is None else w[train])
            stacked[test] = oof[test] @ weights + intercept
        predictions = {**dict(zip(MEMBERS, oof.T)), "stacked": stacked}
        loss = {
            k: [targeting_loss(log_y[t], p[t], weights=None if w is None else w[t]) for _, t in folds]
            for k, p in predictions.items()
        }
        chosen = "stacked" if np.mean(loss["stacked"]) < np.mean(loss["ols"]) else "ols"
        selection = {
            "kind": chosen,
            "reason": "grouped cross-validation" if groups is not None else "cross-validation",
            "folds": len(folds),
            "loss": {k: float(np.mean(v)) for k, v in loss.items()},
        }
        part = (
            self._fit_stacked(X, log_y, w, groups, oof=oof)
            if chosen == "stacked"
            else self._fit_one(X, log_y, w, kind=chosen)
        )
        return {**part, "selection": selection}

    @staticmethod
    def _predict_one(m, X) -> np.ndarray:
        if "stack" in m:
            return (
                sum(wt * WelfareModel._predict_one(part, X) for wt, part in zip(m["weights"], m["stack"]))
                + m["intercept"]
            )
        if "ols" in m:
            return m["design"].predict(X, m["ols"])
        if "kernel" in m:
            return m["kernel"].predict(X)
        return raw_scores(m["lgbm"].booster_, _as_lgbm(X, list(m["categories"]), m["categories"]))

    @staticmethod
    def _contrib_one(m, X) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (rows x columns of ``X``, column-major) and base of one fitted part."""
        if "stack" in m:
            parts = [WelfareModel._contrib_one(part, X) for part in m["stack"]]
            contrib = None
            for wt, (c, _) in zip(m["weights"], parts):
                c *= wt
                contrib = c if contrib is None else np.add(contrib, c, out=contrib)
            return contrib, sum(wt * b for wt, (_, b) in zip(m["weights"], parts)) + m["intercept"]
        if "ols" in m:
            return m["design"].terms(X, m["ols"])
        if "kernel" in m:
            return m["kernel"].contributions(X)
        C = tree_contributions(m["lgbm"].booster_, _as_lgbm(X, list(m["categories"]), m["categories"]))
        return C[:, :-1], C[:, -1]

    @property
    def selection_(self) -> dict:
        """``kind="auto"``: the kind chosen per part and the out-of-fold losses behind the choice."""
        check_is_fitted(self, "models_")
        return {key: m.get("selection", {"kind": self.kind}) for key, m in self.models_.items()}

    def contributions(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        """Additive contributions of each input column to the predicted log consumption, and the base.

        LightGBM parts use TreeSHAP (``pred_contrib``); OLS parts ``coef * (x - training mean)``;
        the kernel its terms' changes from the training means, shared out by column; a stack weights them.
        ``contributions.sum(axis=1) + base == predict_log(X)``.
        """
        check_is_fitted(self, "models_")
        if self.split_by is not None:
            raise NotImplementedError("contributions of split models are not implemented; fit without split_by.")
        X = self._frame(X, reset=False)
        contrib, base = self._contrib_one(self.models_[None], X)
        return pd.DataFrame(contrib, index=X.index, columns=X.columns), base

    def predict_log(self, X) -> np.ndarray:
        """Predicted log consumption per capita."""
        check_is_fitted(self, "models_")
        return self._predict_frame(self._frame(X, reset=False))

    def _predict_frame(self, X: pd.DataFrame) -> np.ndarray:
        out = np.full(len(X), np.nan)
        for key, mask in self._parts(X):
            m = self.models_.get(key)
            if m is None:
                raise ValueError(f"no model for {self.split_by} = {key!r}, unseen in fit.")
            Xp = X[mask] if self.split_by is None else X[mask].drop(columns=self.split_by)
            out[mask] = self._predict_one(m, Xp)
        return out

    def predict(self, X) -> np.ndarray:
        """Predicted consumption per capita in rupiah."""
        return np.exp(self.predict_log(X)) * self.smearing_

    def score(self, X, y, sample_weight=None, log=False):
        """R² of log consumption (``log=True``: ``y`` is already in logs)."""
        y = np.asarray(y, dtype=np.float64)
        return r2_score(y if log else np.log(y), self.predict_log(X), sample_weight=sample_weight)


def _check_column(col: pd.Series) -> None:
    """Dates and infinite numbers are refused with the column and row; missing values are fine."""
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        raise ValueError(f"column {col.name!r} holds dates ({col.dtype}): give numbers (a year, days since) or codes.")
    if pd.api.types.is_float_dtype(col):
        inf = np.isinf(col.to_numpy(dtype="float64", na_value=np.nan))
        if inf.any():
            raise ValueError(
                f"column {col.name!r} is infinite at row {col.index[inf.argmax()]!r} ({inf.sum()} rows): "
                "a ratio divided by zero? Leave the value missing instead."
            )


def _as_lgbm(X: pd.DataFrame, cats: list, categories: dict | None = None) -> pd.DataFrame:
    coded = {}
    for c in cats:
        known = (categories or {}).get(c)
        values = X[c] if known is None else X[c].where(X[c].isin(known))  # unseen -> missing
        coded[c] = pd.Categorical(values, categories=known)
    return X.assign(**coded) if coded else X


def _blend(oof: np.ndarray, log_y, w=None) -> tuple[np.ndarray, float]:
    """Non-negative weights summing to one, and an intercept, of the out-of-fold columns ``oof``
    (weighted least squares with the survey weights ``w``)."""
    w = np.ones(len(log_y)) if w is None else w
    root = np.sqrt(w)[:, None]
    centred = (oof - np.average(oof, axis=0, weights=w)) * root
    weights, _ = nnls(centred, (log_y - np.average(log_y, weights=w)) * root[:, 0])
    weights = weights / weights.sum() if weights.sum() > 0 else np.eye(oof.shape[1])[0]
    return weights, float(np.average(log_y - oof @ weights, weights=w))
