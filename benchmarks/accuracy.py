"""Accuracy bar (issue: targeting models). Train on one synthetic registry, test on another.

Ranks beneficiaries (inclusion errors) and non-beneficiaries (exclusion errors) five ways and prints
precision at the top 5/10/20%: random order, the OLS proxy-means test, a LightGBM trained on verified
outcomes alone, TargetingModel, and TargetingModel with the records of other registries (each
registry's own, linked by the model's linker), with community reports, and with both. ``incl_c``
ranks only the beneficiaries with a PKH component (those without are inclusion errors by rule).
``p-share`` is TargetingModel's mean probability of eligibility less the share truly eligible, among
beneficiaries and non-beneficiaries: the calibration by status on a registry it has not seen. Also
compares WelfareModel kinds out of sample.

    python benchmarks/accuracy.py [N_FAMILIES [N_PAIRS]]      (default 100000 families, 3 pairs)
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from pkh_targeting import apply_rules, generate_registry
from pkh_targeting.features import PMTFeatureBuilder
from pkh_targeting.metrics import pmt_accuracy_table, ranking_table
from pkh_targeting.modeling import TargetingModel, WelfareModel

REF = "2025-07-01"
LINE = {"urban": 629_561, "rural": 580_349}


def real(fam, col):
    return fam[col].to_numpy(dtype=float, na_value=np.nan) / np.where(fam.urban, LINE["urban"], LINE["rural"])


def rule_scores(p_eligible_like, fam, has):
    """Error scores with the certain rules applied, from any eligibility score."""
    receives = fam.receives_pkh.to_numpy(bool)
    incl = np.where(has, 1 - p_eligible_like, 2.0)  # no component: inclusion by rule, first
    excl = np.where(has, p_eligible_like, -1.0)  # no component: cannot be an exclusion error
    return np.where(receives, incl, excl)


def compare(n: int, same_country: bool, seeds: tuple[int, int], regions_seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Precision table of the four rankings for one train/test pair, and the welfare predictions."""
    regions = regions_seed if same_country else None
    train, test = (generate_registry(n, seed=s, regions_seed=regions, reference_date=REF) for s in seeds)
    t_fam, t_mem = test.families, test.members
    truth = test.truth.set_index("family_id").loc[t_fam.family_id]
    has_test = apply_rules(t_fam, t_mem)["has_component"].to_numpy()
    receives = t_fam.receives_pkh.to_numpy(bool)
    scores, timings, probabilities = {}, {}, {}
    rng = np.random.default_rng(0)
    scores["random order"] = rng.random(len(t_fam))

    # OLS proxy-means test: log consumption on PMT features, fitted on the survey sample
    builder = PMTFeatureBuilder().fit((train.families, train.members))
    X_tr, X_te = builder.transform((train.families, train.members)), builder.transform((t_fam, t_mem))
    y_tr = real(train.families, "consumption_per_capita")
    surveyed = np.isfinite(y_tr)
    welfare = {}
    for kind in ("ols", "lightgbm", "stacked"):
        t0 = time.perf_counter()
        wm = WelfareModel(kind, categorical_features=["province"])
        wm.fit(X_tr[surveyed], y_tr[surveyed], groups=train.families.regency_code.to_numpy()[surveyed])
        welfare[kind] = wm.predict_log(X_te)
        timings[f"welfare {kind}"] = time.perf_counter() - t0
    # eligibility score from predicted welfare: lower predicted consumption = more likely eligible
    scores["OLS proxy-means test"] = rule_scores(-welfare["ols"], t_fam, has_test)

    for name, kw, score_kw in (
        ("LightGBM, verified outcomes only", dict(label_sources=("verification",), selection_correction=False), {}),
        ("TargetingModel", {}, {}),
        *(
            (
                f"TargetingModel with {what}",
                {t: getattr(train, t) for t in tables},
                {t: getattr(test, t) for t in tables},
            )
            for what, tables in (
                ("registry records", ("registry_records",)),
                ("community reports", ("community_reports",)),
                ("both", ("registry_records", "community_reports")),
            )
        ),
    ):
        t0 = time.perf_counter()
        model = TargetingModel().fit(train.families, train.members, reference_date=REF, **kw)
        s = model.score(t_fam, t_mem, reference_date=REF, reasons="none", **score_kw)
        timings[name] = time.perf_counter() - t0
        scores[name] = rule_scores(s.p_eligible.to_numpy(), t_fam, has_test)
        probabilities[name] = s.p_eligible.to_numpy()

    rows = []
    for name, score in scores.items():
        row = {"method": name}
        groups = (
            ("incl", receives, "inclusion_error"),
            ("incl_c", receives & has_test, "inclusion_error"),
            ("excl", ~receives, "exclusion_error"),
        )
        for kind, mask, col in groups:
            tab = ranking_table(truth[col].to_numpy()[mask], score[mask])
            for r in tab.itertuples():
                row[f"{kind}@{int(r.top_share * 100)}%"] = round(r.precision, 3)
            row[f"{kind} AUC"] = round(tab.auc.iloc[0], 3)
        eligible = truth["eligible"].to_numpy(bool)
        for kind, mask in (("incl", receives), ("excl", ~receives)):  # probabilities against the truth, by status
            p = probabilities.get(name)
            row[f"{kind} p-share"] = np.nan if p is None else round(p[mask].mean() - eligible[mask].mean(), 3)
        rows.append(row)
    log_c = np.log(truth.consumption_per_capita.to_numpy() / truth.poverty_line.to_numpy())
    return pd.DataFrame(rows).set_index("method"), {"welfare": welfare, "log_c": log_c, "timings": timings}


def main(n: int, same_country: bool, pairs) -> None:
    tables = []
    for i, seeds in enumerate(pairs):
        table, extra = compare(n, same_country, seeds, regions_seed=i)
        tables.append(table)
    where = "the same regions (a later registry round)" if same_country else "different regions (an unseen country)"
    print(f"\n{len(pairs)} train/test pair(s) of {n:,} families each, {where}.")
    print("Mean precision of the top share of beneficiaries (incl) and non-beneficiaries (excl) ranked, and AUC;")
    print("p-share: mean probability of eligibility less the share truly eligible, of each (calibration by status):")
    print((sum(tables) / len(tables)).round(3).to_string())
    if len(tables) > 1:
        wins = sum((t.loc["TargetingModel"] > t.drop(index="TargetingModel")).astype(int) for t in tables)
        print(f"Pairs (of {len(tables)}) in which TargetingModel is strictly better than each method:")
        print(wins.to_string())
    welfare, log_c = extra["welfare"], extra["log_c"]
    print("\nWelfareModel out of sample (last pair), R2 of log real consumption:")
    for kind, pred in welfare.items():
        r2 = 1 - np.sum((log_c - pred) ** 2) / np.sum((log_c - log_c.mean()) ** 2)
        print(f"  {kind:9s} R2 = {r2:.3f}")
    print("World Bank PMT table (last pair), fixed poverty rate:")
    tabs = {
        k: pmt_accuracy_table(log_c, p).query("method == 'fixed poverty rate'").set_index("cutoff_percentile")
        for k, p in welfare.items()
    }
    print(
        pd.concat({k: t[["accuracy", "undercoverage", "leakage"]] for k, t in tabs.items()}, axis=1)
        .round(3)
        .to_string()
    )
    print("seconds (last pair):", {k: round(v, 1) for k, v in extra["timings"].items()})


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    pairs = ((101, 202), (303, 404), (505, 606))[: int(sys.argv[2]) if len(sys.argv) > 2 else 3]
    main(n, same_country=True, pairs=pairs)
    main(n, same_country=False, pairs=pairs)
