"""Tables the model card and the audit report share: one accuracy table, rendered twice."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._version import __version__
from ..records import contract_version

# (method shown, label source in the model's out-of-fold metrics, labels)
_ROWS = (
    ("TargetingModel", "survey", "surveyed families (random sample)"),
    ("OLS proxy-means test (baseline)", "baseline_ols_survey", "surveyed families (random sample)"),
    ("TargetingModel", "verification", "field verifications (not random)"),
)


def accuracy_table(model) -> pd.DataFrame:
    """Out-of-fold accuracy of the model, and of the OLS proxy-means baseline on the same rows and
    folds: AUC with its interval (bootstrapped by regency), precision of the top 10%, Brier, ECE and
    labelled rows."""
    m = model.cv_metrics_
    rows = []
    for method, key, labels in _ROWS:
        if f"{key}_rows" not in m:
            continue
        auc, low, high = (m.get(f"{key}_auc{k}", np.nan) for k in ("", "_low", "_high"))
        rows.append(
            {
                "method": method,
                "labels": labels,
                "AUC": auc,
                "95% interval": f"{low:.3f} - {high:.3f}",
                "top 10% precision": m.get(f"{key}_top10_precision", np.nan),
                "Brier": m.get(f"{key}_brier", np.nan),
                "ECE": m.get(f"{key}_ece", np.nan),
                "rows": int(m[f"{key}_rows"]),
            }
        )
    columns = ["method", "labels", "AUC", "95% interval", "top 10% precision", "Brier", "ECE", "rows"]
    return pd.DataFrame(rows, columns=columns)


def versions_table(model) -> pd.DataFrame:
    """Every version an audit needs: model, hash, rules, contract, package, training data."""
    return pd.DataFrame(
        {
            "item": ["model", "model hash", "rules", "data contract", "package", "training data fingerprint"],
            "value": [
                model.model_version,
                model.model_hash(),
                model.rules_.version,
                str(contract_version()),
                __version__,
                model.fingerprint_["sha256"][:16] + "...",
            ],
        }
    )
