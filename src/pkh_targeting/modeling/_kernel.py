"""The welfare stack's smooth member: RBF kernel ridge on Nyström landmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import solve
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import rbf_kernel

LANDMARKS = 1000  # kernel centres: the cost grows with rows times landmarks, never rows squared
ALPHA = 1.0  # ridge penalty, against the sum of squared errors (WelfareModel's weights have mean one)
CHUNK = 4096  # rows at a time: the kernel matrix is never built whole


class KernelRidge:
    """Ridge regression on an RBF kernel of the numeric columns, standardised, with median-imputed
    missing values (``gamma`` = 1 / columns). The kernel is approximated on ``landmarks`` rows drawn
    in fit (Nyström) and the normal equations are summed by chunks, so a national survey fits in
    the memory of a sample. It sees what trees and OLS do not: smooth interactions of all columns."""

    def __init__(self, columns, *, landmarks=LANDMARKS, alpha=ALPHA, random_state=0):
        self.columns = list(columns)
        self.landmarks = landmarks
        self.alpha = alpha
        self.random_state = random_state

    def _standard(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)))
        for j, c in enumerate(self.columns):
            out[:, j] = X[c].to_numpy(dtype="float64", na_value=np.nan)
        np.copyto(out, self.medians_, where=np.isnan(out))
        out -= self.mean_
        out /= self.scale_
        return out

    def fit(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None = None):
        """Fit on ``y``; ``w`` are weights as `WelfareModel` gives them (mean one)."""
        w = np.ones(len(X)) if w is None else np.asarray(w, dtype="float64")
        raw = X[self.columns].astype("float64")
        self.medians_ = raw.median().fillna(0.0).to_numpy()
        filled = raw.fillna(dict(zip(self.columns, self.medians_))).to_numpy()
        self.mean_ = np.average(filled, axis=0, weights=w)
        scale = np.sqrt(np.average((filled - self.mean_) ** 2, axis=0, weights=w))
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = (filled - self.mean_) / self.scale_
        self.gamma_ = 1.0 / max(len(self.columns), 1)
        (weighted,) = (w > 0).nonzero()  # landmarks among the rows that count
        if not self.columns:  # nothing numeric: the mean
            self.landmarks_, self.coef_ = np.zeros((0, 0)), np.zeros(0)
            self.intercept_ = float(np.average(y, weights=w))
            return self
        nystroem = Nystroem(
            gamma=self.gamma_, n_components=min(self.landmarks, len(weighted)), random_state=self.random_state
        ).fit(Z[weighted])
        k = nystroem.components_.shape[0]
        gram, total, weighted_y = np.zeros((k, k)), np.zeros(k), np.zeros(k)
        for s in range(0, len(Z), CHUNK):
            F, ws = nystroem.transform(Z[s : s + CHUNK]), w[s : s + CHUNK]
            gram += F.T @ (F * ws[:, None])
            total += ws @ F
            weighted_y += (ws * y[s : s + CHUNK]) @ F
        mean_f, mean_y = total / w.sum(), np.average(y, weights=w)
        gram -= w.sum() * np.outer(mean_f, mean_f)
        gram[np.diag_indices(k)] += self.alpha
        beta = solve(gram, weighted_y - mean_y * total, assume_a="pos")
        self.landmarks_ = nystroem.components_
        self.coef_ = nystroem.normalization_.T @ beta  # on the kernel at the landmarks
        self.intercept_ = float(mean_y - mean_f @ beta)
        return self

    def state(self) -> dict:
        learned = {k: np.asarray(v).tolist() for k, v in vars(self).items() if k.endswith("_")}
        return {"columns": self.columns, **learned}

    @classmethod
    def from_state(cls, state: dict) -> KernelRidge:
        model = cls(state["columns"])
        for k, v in state.items():
            if k.endswith("_"):
                setattr(model, k, np.asarray(v) if isinstance(v, list) else v)
        return model

    def _kernel(self, Z: np.ndarray) -> np.ndarray:
        if not self.columns:
            return np.zeros((len(Z), 0))
        return rbf_kernel(Z, self.landmarks_, gamma=self.gamma_)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        Z = self._standard(X)
        out = np.empty(len(Z))
        for s in range(0, len(Z), CHUNK):
            out[s : s + CHUNK] = self._kernel(Z[s : s + CHUNK]) @ self.coef_
        return out + self.intercept_

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each column's part of the prediction (rows x columns of ``X``, column-major; zero for
        columns the kernel does not use) and the base, the prediction at the training means.

        Each landmark's term ``c exp(-g |z - l|^2)`` changes from the means (``z = 0``) to the row as
        its exponent does, and the exponent is a sum over the columns: the term's change is shared out
        in proportion to each column's part of the exponent's change (DeepLIFT's rescale rule,
        Shrikumar et al. 2017). The parts add up to the prediction exactly; a column at its mean gets
        none; where the exponents change little they are the Shapley values."""
        Z = self._standard(X)
        at_means = self.coef_ * np.exp(-self.gamma_ * (self.landmarks_**2).sum(axis=1))
        parts = np.empty_like(Z)
        for s in range(0, len(Z), CHUNK):
            z = Z[s : s + CHUNK]
            change = z @ (2 * self.gamma_ * self.landmarks_.T)  # of each exponent, in place: rows x landmarks
            change -= self.gamma_ * (z**2).sum(axis=1)[:, None]
            with np.errstate(invalid="ignore"):
                rate = np.expm1(change)
                rate /= change
            rate[change == 0] = 1.0
            rate *= at_means
            parts[s : s + CHUNK] = -self.gamma_ * (z**2 * rate.sum(axis=1)[:, None] - 2 * z * (rate @ self.landmarks_))
        out = np.zeros(X.shape, order="F")
        out[:, X.columns.get_indexer(self.columns)] = parts
        return out, np.full(len(X), at_means.sum() + self.intercept_)
