"""Calibration of probabilities: pure functions from scores and labels to a JSON-ready calibrator."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ._cv import grouped_folds

METHODS = ("auto", "isotonic", "sigmoid", "none")
# with fewer calibration rows, out-of-fold predictions are too unlike the final model's to calibrate it
MIN_ROWS = {"sigmoid": 300, "isotonic": 1000}


def fit_calibrator(method: str, p, y, w) -> dict:
    """Calibrator of probabilities ``p`` against labels ``y`` (weights ``w``): isotonic, sigmoid
    (Platt) or none (the probabilities as they are)."""
    if method == "none":
        return {"method": "none"}
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y, sample_weight=w)
        return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    if method == "sigmoid":
        z = logit(np.clip(p, 1e-6, 1 - 1e-6))[:, None]
        lr = LogisticRegression(C=1e6).fit(z, y, sample_weight=w)
        return {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    raise ValueError(f"calibration must be one of {METHODS}, got {method!r}.")


def calibrate(calibrator: dict, p) -> np.ndarray:
    """Apply a `fit_calibrator` result to probabilities ``p``."""
    if calibrator["method"] == "none":
        return np.asarray(p, dtype=np.float64)
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


def choose_calibration(p, y, w, calib, groups, n_splits: int) -> tuple[str, np.ndarray, dict]:
    """The calibration with the lowest cross-fitted Brier score on the ``calib`` rows, among none,
    Platt (with at least 300 calibration rows) and isotonic (with 1,000); a calibration replaces
    none only if it lowers the Brier score by more than two standard errors of the paired difference.

    Returns the method, its cross-fitted probabilities and the Brier score of each candidate.
    """
    p, y, w = np.asarray(p, np.float64), np.asarray(y, np.float64), np.asarray(w, np.float64)
    candidates = ["none"] + [m for m, n in MIN_ROWS.items() if calib.sum() >= n]
    fitted = {m: cross_fitted(m, p, y, w, calib, groups, n_splits) for m in candidates}
    wc = w[calib] / w[calib].sum()
    loss = {m: (q[calib] - y[calib]) ** 2 for m, q in fitted.items()}
    brier = {m: float(wc @ v) for m, v in loss.items()}
    best = min(candidates, key=brier.get)
    gain = loss["none"] - loss[best]
    se = np.sqrt(wc @ (gain - wc @ gain) ** 2 / max(len(gain) - 1, 1))
    chosen = best if best == "none" or brier["none"] - brier[best] > 2 * se else "none"
    return chosen, fitted[chosen], brier
