"""The OLS proxy-means formula's design: median-imputed numbers and one-hot area codes, sparse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression

DENSE_CELLS = 20_000_000  # OLS designs up to this many cells (160 MB) are solved dense


class Design:
    """The design of OLS, learned in fit: median-imputed numbers and one-hot categories (first level
    dropped). Sparse to fit on; applied to new rows by lookup, without building it."""

    def __init__(self, categorical):
        self.categorical = list(categorical)

    def fit(self, X: pd.DataFrame):
        self.numeric = [c for c in X.columns if c not in self.categorical]
        self.medians = X[self.numeric].median().fillna(0.0).to_dict()
        self.levels = {c: _sorted(X[c].dropna().unique().tolist())[1:] for c in self.categorical}  # first dropped
        self.means = np.asarray(self.transform(X).mean(axis=0)).ravel()
        return self

    def sources(self) -> list[str]:
        """The input column behind each design column."""
        return self.numeric + [c for c, levels in self.levels.items() for _ in levels]

    def _numeric(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.numeric)), order="F")
        for j, c in enumerate(self.numeric):  # column by column: a frame of many dtypes is never consolidated
            out[:, j] = X[c].to_numpy(dtype="float64", na_value=np.nan)
            np.copyto(out[:, j], self.medians[c], where=np.isnan(out[:, j]))
        return out

    def _codes(self, X: pd.DataFrame, c: str) -> np.ndarray:
        """Each row's level of ``c`` by its position in ``levels[c]``; -1 for the dropped first
        level, unseen levels and missing values (no column)."""
        levels = self.levels[c]
        numeric = pd.api.types.is_numeric_dtype(X[c]) and all(isinstance(v, (int, float)) for v in levels)
        values = X[c].to_numpy(dtype="float64", na_value=np.nan) if numeric else X[c].to_numpy()
        return pd.Index(levels, dtype="float64" if numeric else object).get_indexer(values)

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        """The design, sparse: one-hot columns cost a cell per row whatever the number of levels
        (village codes of a national survey), where a dense design would not fit in memory."""
        blocks = [sp.csr_matrix(self._numeric(X))]
        for c, levels in self.levels.items():
            codes = self._codes(X, c)
            (rows,) = (codes >= 0).nonzero()
            blocks.append(sp.csr_matrix((np.ones(len(rows)), (rows, codes[rows])), (len(X), len(levels))))
        return sp.hstack(blocks, format="csr")

    def terms(self, X: pd.DataFrame, ols) -> tuple[np.ndarray, np.ndarray]:
        """The fitted ``ols``'s ``coef · (design - training means)`` of each input column (rows x
        columns of ``X``, column-major), and the base: one-hot levels by lookup, no design matrix."""
        coef, k = ols.coef_, len(self.numeric)
        out = np.zeros(X.shape, order="F")
        out[:, X.columns.get_indexer(self.numeric)] = (self._numeric(X) - self.means[:k]) * coef[:k]
        for c, term in self._level_terms(X, coef):
            out[:, X.columns.get_loc(c)] = term
        return out, np.full(len(X), self._base(ols))

    def predict(self, X: pd.DataFrame, ols) -> np.ndarray:
        """The fitted ``ols``'s predictions: the `terms` summed, without the table."""
        coef, k = ols.coef_, len(self.numeric)
        terms = (self._numeric(X) - self.means[:k]) @ coef[:k] + sum((t for _, t in self._level_terms(X, coef)), 0.0)
        return terms + self._base(ols)

    def _base(self, ols) -> float:
        return float(ols.intercept_ + np.dot(ols.coef_, self.means))

    def _level_terms(self, X: pd.DataFrame, coef):
        """(column, term) of each categorical column: its level's coefficient less the mean one."""
        k = len(self.numeric)
        for c, levels in self.levels.items():
            level_coef = np.append(coef[k : k + len(levels)], 0.0)  # code -1 (no column) takes the last: 0
            yield c, level_coef[self._codes(X, c)] - level_coef[:-1] @ self.means[k : k + len(levels)]
            k += len(levels)

    def state(self) -> dict:
        return {
            "categorical": self.categorical,
            "numeric": self.numeric,
            "medians": self.medians,
            "levels": self.levels,
            "means": self.means.tolist(),
        }

    @classmethod
    def from_state(cls, s: dict) -> Design:
        d = cls(s["categorical"])
        d.numeric, d.medians, d.levels, d.means = s["numeric"], s["medians"], s["levels"], np.asarray(s["means"])
        return d


def _sorted(levels: list) -> list:
    try:
        return sorted(levels)
    except TypeError:  # codes of several types (1 and "01" from a spreadsheet): by type, then value
        return sorted(levels, key=lambda v: (type(v).__name__, v))


def least_squares(Z: sp.csr_matrix, log_y, w) -> LinearRegression:
    """OLS of ``log_y`` on the design ``Z``: by LAPACK where it is small enough to be dense, else
    by LSQR on the sparse design, to a tolerance where the two agree (~1e-10 on real surveys)."""
    if Z.shape[0] * Z.shape[1] <= DENSE_CELLS:
        return LinearRegression().fit(Z.toarray(), log_y, sample_weight=w)
    return LinearRegression(tol=1e-14).fit(Z, log_y, sample_weight=w)
