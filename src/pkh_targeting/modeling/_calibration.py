"""Calibration of probabilities: pure functions from scores and labels to a JSON-ready calibrator."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ._cv import grouped_folds


def fit_calibrator(method: str, p, y, w) -> dict:
    """Calibrator of probabilities ``p`` against labels ``y`` (weights ``w``): isotonic or sigmoid (Platt)."""
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y, sample_weight=w)
        return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    if method == "sigmoid":
        z = logit(np.clip(p, 1e-6, 1 - 1e-6))[:, None]
        lr = LogisticRegression(C=1e6).fit(z, y, sample_weight=w)
        return {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', got {method!r}.")


def calibrate(calibrator: dict, p) -> np.ndarray:
    """Apply a `fit_calibrator` result to probabilities ``p``."""
    if calibrator["method"] == "isotonic":
        # isotonic steps tie many families; a 1e-6 slope keeps the model's order within a step
        return np.clip(np.interp(p, calibrator["x"], calibrator["y"]) + 1e-6 * (np.asarray(p) - 0.5), 0, 1)
    return expit(calibrator["a"] * logit(np.clip(p, 1e-6, 1 - 1e-6)) + calibrator["b"])


def cross_fitted(method: str, p, y, w, calib, groups, n_splits: int) -> np.ndarray:
    """Calibrated out-of-fold probabilities, each calibrated on the ``calib`` rows of the other
    groups only, so that reported calibration is honest."""
    out = np.empty(len(p))
    for train, test in grouped_folds(groups, n_splits):
        fit = train[calib[train]]
        out[test] = calibrate(fit_calibrator(method, p[fit], y[fit], w[fit]), p[test])
    return out
