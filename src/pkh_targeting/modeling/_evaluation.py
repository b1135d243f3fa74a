"""Labels and accuracy: the labelled rows built once (for fit and evaluate), and their metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from sklearn.metrics import brier_score_loss

from ..explain import Explainer
from ..metrics import (
    auc,
    bootstrap_ci,
    calibration_summary,
    feature_bins,
    precision_at,
    reliability_table,
    standard_groups,
)
from ..records import data_fingerprint

LABEL_SOURCES = ("survey", "verification")
MIN_GROUP_ROWS = 100


def real_consumption(fam: pd.DataFrame, poverty_line: dict) -> np.ndarray:
    """Consumption per capita divided by the urban or rural poverty line; NaN where not surveyed."""
    line = np.where(fam["urban"].to_numpy(dtype=bool), poverty_line["urban"], poverty_line["rural"])
    if "consumption_per_capita" not in fam:
        return np.full(len(fam), np.nan)
    return fam["consumption_per_capita"].to_numpy(dtype="float64", na_value=np.nan) / line


def welfare_threshold(real: np.ndarray, surveyed: np.ndarray, desil_cutoff: int) -> float | None:
    """Real consumption at the desil cut-off quantile of the surveyed families (None without any)."""
    return float(np.quantile(real[surveyed], desil_cutoff / 10)) if surveyed.any() else None


def surveyed_rows(real: np.ndarray) -> np.ndarray:
    """Families whose consumption was measured."""
    return np.isfinite(real) & (real > 0)


def verified_rows(fam: pd.DataFrame) -> np.ndarray:
    """Families with a field verification outcome."""
    if "verified_eligible" not in fam:
        return np.zeros(len(fam), bool)
    return fam["verified_eligible"].notna().to_numpy()


def labelled_rows(fam: pd.DataFrame, has: np.ndarray, real: np.ndarray, threshold, sources=LABEL_SOURCES):
    """The labelled families, survey rows first, then verification rows, each in family order.

    A survey label is eligibility from consumption (welfare below ``threshold``) and the rules (a
    component); a verification label is the outcome recorded in the field.

    Returns
    -------
    DataFrame with ``row`` (position in ``fam``), ``source`` and ``label``.
    """
    parts = []
    if "survey" in sources and threshold is not None:
        sv = np.flatnonzero(surveyed_rows(real))
        parts.append(pd.DataFrame({"row": sv, "source": "survey", "label": (real[sv] <= threshold) & has[sv]}))
    if "verification" in sources:
        vv = np.flatnonzero(verified_rows(fam))
        label = fam["verified_eligible"].to_numpy(dtype=bool, na_value=False)[vv] if len(vv) else np.zeros(0, bool)
        parts.append(pd.DataFrame({"row": vv, "source": "verification", "label": label}))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "source": pd.Series(dtype=object), "label": False})
    return pd.concat(parts, ignore_index=True)


def label_metrics(oof: pd.DataFrame) -> dict:
    """AUC (with group-clustered interval), precision of the top 10% (the share eligible among the
    tenth most likely eligible), Brier and ECE of ``p_eligible`` per label source; with a ``p_raw``
    column, the Brier and ECE of the uncalibrated probabilities too (``raw_brier``, ``raw_ece``)."""
    out = {}
    for source, d in oof.groupby("source"):
        y, p = d["label"].to_numpy(bool), d["p_eligible"].to_numpy()
        if 0 < y.sum() < len(y):
            ci = bootstrap_ci(auc, y, p, clusters=d["group"].to_numpy(), n_boot=100)
            out[f"{source}_auc"] = ci["estimate"]
            out[f"{source}_auc_low"], out[f"{source}_auc_high"] = ci["low"], ci["high"]
            out[f"{source}_top10_precision"] = precision_at(y, p, 0.10)
        out.update({f"{source}_{k}": v for k, v in calibration_summary(y, p).items()})
        if "p_raw" in d:
            out.update({f"{source}_raw_{k}": v for k, v in calibration_summary(y, d["p_raw"].to_numpy()).items()})
        out[f"{source}_rows"] = int(len(d))
    return out


def group_accuracy(oof: pd.DataFrame, families, members) -> pd.DataFrame:
    """AUC and Brier of out-of-fold probabilities by `standard_groups` (fairlearn), with a flag for
    groups under `MIN_GROUP_ROWS` labelled families."""
    groups = standard_groups(families, members).reindex(oof["family_id"].to_numpy())
    y, p = oof["label"].to_numpy(bool), oof["p_eligible"].to_numpy()
    rows = []
    for col in groups.columns:
        mf = MetricFrame(
            metrics={"auc": auc, "brier": brier_score_loss, "rows": count},
            y_true=y,
            y_pred=p,
            sensitive_features=pd.Series(groups[col].astype(str).to_numpy(), name=col),
        )
        for level, r in mf.by_group.iterrows():
            rows.append(
                {
                    "group": col,
                    "level": level,
                    "rows": int(r["rows"]),
                    "auc": round(float(r["auc"]), 3),
                    "brier": round(float(r["brier"]), 3),
                    "too_small": int(r["rows"]) < MIN_GROUP_ROWS,
                }
            )
    return pd.DataFrame(rows)


def record_training(model, X, fam, mem, res, has, baseline, surveyed) -> None:
    """What ``model`` carries about its training: metrics (with the OLS baseline on the same survey
    rows), summary, fingerprint, feature bins, and the evidence an audit report shows."""
    oof = model.oof_
    if baseline is not None:  # the same survey rows, scored by the OLS proxy-means test (never calibrated)
        sr = oof["source"] == "survey"
        p = np.where(has, baseline, 0)[surveyed & has]
        base = oof[sr].assign(source="baseline_ols_survey", p_eligible=p, p_raw=p)
        oof = pd.concat([oof, base], ignore_index=True)
    model.cv_metrics_ = label_metrics(oof)
    source = model.oof_["source"]
    model.training_summary_ = {
        "families": int(len(fam)),
        "members": int(len(mem)),
        "quarantined_rows": int(len(res.quarantine)),
        "survey_rows": int((source == "survey").sum()),
        "verification_rows": int((source == "verification").sum()),
        "trees": int(model.classifier_.num_trees()),
        "cv_iterations": [int(i) for i in model.iterations_],
        "selection_shift": model.selection_shift_,
        "welfare_model": model.welfare_.selection_[None]["kind"] if model.welfare_ is not None else "none",
        "calibration": model.calibrator_["method"],
    }
    model.fingerprint_ = data_fingerprint(fam, mem)
    model.feature_bins_ = {c: feature_bins(X[c].to_numpy()) for c in model.feature_names_}
    sample = X.sample(min(len(X), 2000), random_state=model.config.seed)
    model.evidence_ = {
        "groups": group_accuracy(model.oof_, fam, mem).to_dict("records"),
        "reliability": {
            src: reliability_table(d["label"], d["p_eligible"]).to_dict("records")
            for src, d in model.oof_.groupby("source")
        },
        "importance": Explainer(model, language="en").global_importance(sample).round(5).to_dict(),
    }
