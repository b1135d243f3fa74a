"""Welfare models on real surveys: undercoverage at 20/30/40% on repeated grouped folds.

For each survey table (CSV: a welfare column, predictors, a group column such as the enumeration
area), every model is fitted on four fifths of the groups and ranks the other fifth; the pooled
out-of-fold predictions target the poorest share. Undercoverage is the share of the truly poorest
not targeted; at a fixed quota it equals leakage. Printed: the mean over the repeats, and the
difference from OLS with a 95% interval that resamples groups (the same resample for every repeat).
The default (``auto``) chooses inside each outer training fold, on that fold alone (nested).

    python benchmarks/real_surveys.py PATH.csv [PATH.csv ...] [--welfare consumption] [--group ea]
        [--predictors a,b,c] [--location province,district,subdistrict] [--weight COLUMN]
        [--by COLUMN] [--sample N_GROUPS --draws 5] [--repeats 5] [--seed 0] [--models lightgbm,default]

``--weight`` names survey weights (Susenas' household weight times its size, say): the models are
fitted with them and the shares and undercoverage are of the weighted population. ``--by`` splits a
table into surveys of their own (each province, say), for surveys the models were not tuned on;
``--sample 100 --draws 5`` makes five small surveys of 100 random groups each (seeded).

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
MODELS = {"ols": "ols", "lightgbm": "lightgbm", "kernel": "kernel", "stacked": "stacked", "default": "auto"}


def read_surveys(
    path: Path, welfare: str, group: str, predictors, location=(), weight=None, by=None, sample=None, draws=1
):
    """(name, predictors, welfare, groups, weights or None) of the table at ``path``, or of each of
    its parts by the column ``by``; with ``sample``, of ``draws`` random draws of that many groups
    from each (small surveys)."""
    d = pd.read_csv(path)
    if predictors is None:
        variables = path.with_name("variables.csv")
        if variables.exists() and "Order" in (v := pd.read_csv(variables)):
            predictors = v.loc[v["Order"].notna(), "Name"].tolist()
        else:
            predictors = [c for c in d.select_dtypes("number").columns if c not in (welfare, group, weight)]
    d = d[d[welfare] > 0]
    name = f"{path}" + (f" (locations: {', '.join(location)})" if location else "")
    parts = [(name, d)] if by is None else [(f"{name}, {by} {v}", p) for v, p in d.groupby(by)]
    if sample is not None:
        rng = np.random.default_rng(0)
        parts = [
            (
                f"{label}, draw {k + 1} of {sample} {group}s",
                p[p[group].isin(rng.choice(p[group].unique(), sample, replace=False))],
            )
            for label, p in parts
            for k in range(draws)
        ]
    for label, part in parts:
        part = part.reset_index(drop=True)
        X, code = part[predictors].copy(), None
        for level in location:
            code = X[level] = part[level].astype(str) if code is None else code + "/" + part[level].astype(str)
        weights = None if weight is None else part[weight].to_numpy(float)
        yield label, X, part[welfare].to_numpy(float), part[group].to_numpy(), weights


def out_of_fold(model, X, y, groups, seed: int, weights=None) -> tuple[np.ndarray, list]:
    """Log predictions of ``model`` for every row, each from a fit on the other groups' folds."""
    out, chosen = np.empty(len(y)), []
    for train, test in GroupKFold(5, shuffle=True, random_state=seed).split(X, y, groups):
        w = None if weights is None else weights[train]
        fitted = clone(model).fit(X.iloc[train], y[train], sample_weight=w, groups=groups[train])
        out[test] = fitted.predict_log(X.iloc[test])
        chosen.append(fitted.selection_[None]["kind"])
    return out, chosen


def mean_undercoverage(log_y, predictions, share, weights):
    return float(
        np.mean([undercoverage_at(log_y, predictions[:, r], share, weights) for r in range(predictions.shape[1])])
    )


def survey_table(title: str, X, y, groups, weights, repeats: int, seed: int = 0, models=tuple(MODELS)) -> pd.DataFrame:
    log_y = np.log(y)
    w = np.ones(len(y)) if weights is None else weights
    print(f"\n{title}: {len(y):,} households, {len(np.unique(groups)):,} groups, {X.shape[1]} predictors")
    preds = {}
    for name in ["ols"] + [m for m in models if m != "ols"]:
        model, t0 = WelfareModel(MODELS[name], random_state=seed), time.perf_counter()
        runs = [out_of_fold(model, X, y, groups, seed, weights) for seed in range(repeats)]
        preds[name] = np.column_stack([p for p, _ in runs])
        kinds = pd.Series([k for _, c in runs for k in c]).value_counts().to_dict()
        print(f"  {name:15s} {time.perf_counter() - t0:6.1f} s   chosen in the outer folds: {kinds}")
    rows = []
    for share in SHARES:
        base = mean_undercoverage(log_y, preds["ols"], share, w)
        for name, p in preds.items():
            diff = bootstrap_ci(
                lambda ly, a, b, w: mean_undercoverage(ly, a, share, w) - mean_undercoverage(ly, b, share, w),
                log_y,
                p,
                preds["ols"],
                w,
                clusters=groups,
                n_boot=200,
            )
            rows.append(
                {
                    "share": f"{share:.0%}",
                    "model": name,
                    "undercoverage": round(mean_undercoverage(log_y, p, share, w), 4),
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
    ap.add_argument("--weight", default=None)
    ap.add_argument("--by", default=None)
    ap.add_argument("--sample", type=int, default=None, help="draw this many groups (a small survey)")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="the models' random_state (the folds stay)")
    ap.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS), help="OLS and these")
    args = ap.parse_args()
    tables = []
    for path in args.paths:
        for survey in read_surveys(
            path,
            args.welfare,
            args.group,
            args.predictors,
            args.location,
            args.weight,
            args.by,
            args.sample,
            args.draws,
        ):
            tables.append(survey_table(*survey, args.repeats, args.seed, args.models))
            print(tables[-1].to_string(index=False))
    if len(tables) > 1:
        default = pd.concat(tables).query("model == 'default'").groupby("share")["vs_ols"]
        print(f"\ndefault vs OLS over {len(tables)} surveys:")
        print(default.agg(mean="mean", worst="max").round(4).to_string())


if __name__ == "__main__":
    main()
