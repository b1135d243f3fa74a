"""Benchmark: reasons for 100,000 families (target under 2 s, at least 50,000 families per second).

python benchmarks/explain.py [N_FAMILIES]

The model is the one `scale.py` trains (50k families, saved under /tmp/pkh-bench). ``first call``
includes working out each booster's TreeSHAP tables (once per process); ``again`` is every later
batch, as each chunk of a scored batch after the first.
"""

from __future__ import annotations

import sys
import time

from scale import REF, train_model

from pkh_targeting import TargetingModel, generate_registry
from pkh_targeting.explain import Explainer
from pkh_targeting.modeling._linked import components

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    model = TargetingModel.load(train_model())
    batch = generate_registry(n, seed=2, regions_seed=0, reference_date=REF)
    fam, mem = batch.families, batch.members
    comps = components(fam, mem, None, model.rules_)
    X = model.features(fam, mem, comps, reference_date=REF)
    args = (X, fam, fam.receives_pkh.to_numpy(), comps["has_component"].to_numpy())
    by_rule = {k: comps[k].to_numpy() for k in ("component_died", "excluded")}
    print(f"families {n:,}; classifier trees {model.classifier_.num_trees()}; welfare {model.welfare_.selection_}")
    for label in ("first call", "again"):
        ex = Explainer(model)
        t0 = time.perf_counter()
        folded, _ = ex.concept_contributions(X)
        t1 = time.perf_counter()
        reasons = ex.reasons(*args, folded=folded, by_rule=by_rule)
        t2 = time.perf_counter()
        print(
            f"{label:>10}: contributions {t1 - t0:5.2f} s, texts {t2 - t1:5.2f} s, "
            f"total {t2 - t0:5.2f} s ({n / (t2 - t0):,.0f} families/s)"
        )
    print("example:", reasons.iloc[0])
