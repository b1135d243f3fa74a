"""Benchmark: WelfareModel on a national survey with fine location codes. Run on demand:

    python benchmarks/welfare_scale.py [N_HOUSEHOLDS [N_VILLAGES]]     (default 300000 30000)

A synthetic survey the size of Susenas: 40 numeric indicators and nested location codes (34
provinces, 514 regencies, villages), welfare with location effects at each level. Fits OLS (one-hot
locations: the proxy-means formula's fixed effects) and the default (``auto``: grouped
cross-validation between OLS and the stack, by regency), each in a fresh process, and prints wall
time, peak memory and the R2 of log welfare on a tenth of the villages held out.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from _common import measure, table


def survey(n: int, villages: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    village = rng.integers(0, villages, n)
    regency = village * 514 // villages
    province = regency * 34 // 514
    X = pd.DataFrame(rng.normal(size=(n, 40)), columns=[f"x{i}" for i in range(40)])
    X["province"], X["regency"], X["village"] = (
        province.astype(str),
        (province * 1000 + regency).astype(str),
        (regency * 100_000 + village).astype(str),
    )
    effect = rng.normal(0, 0.2, 34)[province] + rng.normal(0, 0.2, 514)[regency] + rng.normal(0, 0.2, villages)[village]
    log_y = 13 + X.iloc[:, :40].to_numpy() @ rng.normal(0, 0.08, 40) + 0.2 * np.tanh(X.x0 * X.x1) + effect
    return X, np.exp(log_y + rng.normal(0, 0.4, n)), regency, village


def fit(kind: str, n: int, villages: int) -> dict:
    from pkh_targeting.modeling import WelfareModel

    X, y, regency, village = survey(n, villages)
    test = village % 10 == 0
    m = WelfareModel(kind).fit(X[~test], y[~test], groups=regency[~test])
    return {"r2 (held-out villages)": round(m.score(X[test], y[test]), 3), "chosen": m.selection_[None]["kind"]}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    villages = int(sys.argv[2]) if len(sys.argv) > 2 else 30_000
    rows = [{"model": kind, **measure(fit, kind, n, villages)} for kind in ("ols", "auto")]
    print(f"\nWelfareModel on {n:,} households, {villages:,} villages (locations: province, regency, village)")
    print(table(rows))
