"""Benchmark: reasons for 100,000 families (target under 30 s on 2 cores).

python benchmarks/explain.py [N_FAMILIES]
"""

from __future__ import annotations

import sys
import time

from pkh_targeting import apply_rules, generate_registry
from pkh_targeting.explain import Explainer
from pkh_targeting.modeling import TargetingModel

REF = "2025-07-01"

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    train = generate_registry(100_000, seed=1, regions_seed=0, reference_date=REF)
    batch = generate_registry(n, seed=2, regions_seed=0, reference_date=REF)
    model = TargetingModel().fit(train.families, train.members, reference_date=REF)
    fam, mem = batch.families, batch.members
    X = model.features(fam, mem)
    has = apply_rules(fam, mem)["has_component"].to_numpy()
    ex = Explainer(model)
    t0 = time.perf_counter()
    folded, _ = ex.concept_contributions(X)
    t1 = time.perf_counter()
    reasons = ex.reasons(X, fam, fam.receives_pkh.to_numpy(), has, folded=folded)
    t2 = time.perf_counter()
    print(
        f"families {n:,}; classifier trees {model.classifier_.num_trees()}; "
        f"welfare stack weights {model.welfare_.models_[None]['weights']}"
    )
    print(f"contributions (TreeSHAP + welfare channel, folded): {t1 - t0:6.1f} s  ({n / (t1 - t0):,.0f} families/s)")
    print(f"reason texts (top 3, Indonesian):                   {t2 - t1:6.1f} s")
    print(f"total:                                              {t2 - t0:6.1f} s")
    print("example:", reasons.iloc[0])
