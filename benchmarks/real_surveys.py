"""Welfare models on real surveys: undercoverage at 20/30/40% on repeated grouped folds.

For each survey table (CSV: a welfare column, predictors, a group column such as the enumeration
area), every model is fitted on four fifths of the groups and ranks the other fifth; the pooled
out-of-fold predictions target the poorest share. Undercoverage is the share of the truly poorest
not targeted; at a fixed quota it equals leakage. Printed: the mean over the repeats, and the
difference from OLS with a 95% interval that resamples groups (the same resample for every repeat).
The default (``auto``) chooses inside each outer training fold, on that fold alone (nested).

    python benchmarks/real_surveys.py PATH.csv [PATH.csv ...] [--welfare consumption] [--group ea]
        [--predictors a,b,c] [--location province,district,subdistrict] [--repeats 5]

Predictors default to a ``variables.csv`` beside the table (the rows with a value in ``Order``), as
in the Alatas et al. (2012) extract, or else to every numeric column but the welfare and group.
``--location`` names nested area codes, coarsest first; each level is added as a category of its
full code (one-hot in OLS), as a proxy-means formula has location effects. The
folds hold out whole groups (enumeration areas), so a held-out area's subdistrict is known from
other areas, as a new area's would be:

    python benchmarks/real_surveys.py ../shared/data/alatas-2012/alatas.csv --location province,district,subdistrict
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from pkh_targeting.metrics import bootstrap_ci, undercoverage_at
from pkh_targeting.modeling import WelfareModel

SHARES = (0.2, 0.3, 0.4)
MODELS = {
    "ols": WelfareModel("ols"),
    "lightgbm": WelfareModel("lightgbm"),
    "stacked": WelfareModel("stacked"),
    "default (auto)": WelfareModel(),
}


def read_survey(path: Path, welfare: str, group: str, predictors: list[str] | None, location=()):
    d = pd.read_csv(path)
    if predictors is None:
        variables = path.with_name("variables.csv")
        if variables.exists() and "Order" in (v := pd.read_csv(variables)):
            predictors = v.loc[v["Order"].notna(), "Name"].tolist()
        else:
            predictors = [c for c in d.select_dtypes("number").columns if c not in (welfare, group)]
    d = d[d[welfare] > 0].reset_index(drop=True)
    X, code = d[predictors].copy(), None
    for level in location:
        code = X[level] = d[level].astype(str) if code is None else code + "/" + d[level].astype(str)
    return X, d[welfare].to_numpy(float), d[group].to_numpy()


def out_of_fold(model, X, y, groups, seed: int) -> tuple[np.ndarray, list]:
    """Log predictions of ``model`` for every row, each from a fit on the other groups' folds."""
    out, chosen = np.empty(len(y)), []
    for train, test in GroupKFold(5, shuffle=True, random_state=seed).split(X, y, groups):
        fitted = clone(model).fit(X.iloc[train], y[train], groups=groups[train])
        out[test] = fitted.predict_log(X.iloc[test])
        chosen.append(fitted.selection_[None]["kind"])
    return out, chosen


def mean_undercoverage(log_y, predictions, share):
    return float(np.mean([undercoverage_at(log_y, predictions[:, r], share) for r in range(predictions.shape[1])]))


def survey_table(path: Path, welfare: str, group: str, predictors, location, repeats: int) -> pd.DataFrame:
    X, y, groups = read_survey(path, welfare, group, predictors, location)
    log_y = np.log(y)
    print(
        f"\n{path}: {len(y):,} households, {len(np.unique(groups)):,} groups, {X.shape[1]} predictors"
        + (f" (locations: {', '.join(location)})" if location else "")
    )
    preds = {}
    for name, model in MODELS.items():
        t0 = time.perf_counter()
        runs = [out_of_fold(model, X, y, groups, seed) for seed in range(repeats)]
        preds[name] = np.column_stack([p for p, _ in runs])
        kinds = pd.Series([k for _, c in runs for k in c]).value_counts().to_dict()
        print(f"  {name:15s} {time.perf_counter() - t0:6.1f} s   chosen in the outer folds: {kinds}")
    rows = []
    for share in SHARES:
        base = mean_undercoverage(log_y, preds["ols"], share)
        for name, p in preds.items():
            diff = bootstrap_ci(
                lambda ly, a, b: mean_undercoverage(ly, a, share) - mean_undercoverage(ly, b, share),
                log_y,
                p,
                preds["ols"],
                clusters=groups,
                n_boot=200,
            )
            rows.append(
                {
                    "share": f"{share:.0%}",
                    "model": name,
                    "undercoverage": round(mean_undercoverage(log_y, p, share), 4),
                    "vs_ols": round(diff["estimate"], 4),
                    "vs_ols_low": round(diff["low"], 4),
                    "vs_ols_high": round(diff["high"], 4),
                }
            )
        assert rows[-len(preds)]["undercoverage"] == round(base, 4)
    return pd.DataFrame(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--welfare", default="consumption")
    ap.add_argument("--group", default="ea")
    ap.add_argument("--predictors", type=lambda s: s.split(","), default=None)
    ap.add_argument("--location", type=lambda s: s.split(","), default=[])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for path in args.paths:
        table = survey_table(path, args.welfare, args.group, args.predictors, args.location, args.repeats)
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
