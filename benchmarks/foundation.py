"""Benchmark: synthetic generation, validation and feature building (issues: foundation,
synthetic registry, feature builder). Run on demand:  python benchmarks/foundation.py [N ...]"""

from __future__ import annotations

import sys

import pandas as pd
from _common import measure, registry, table


def synth(n):
    from pkh_targeting import generate_registry

    reg = generate_registry(n, seed=1, reference_date="2025-07-01")
    return {"members": len(reg.members)}


def validate(path):
    from pkh_targeting import validate_records

    fam, mem = pd.read_parquet(path / "families.parquet"), pd.read_parquet(path / "members.parquet")
    import time

    t0 = time.perf_counter()
    res = validate_records(fam, mem, reference_date="2025-07-01")
    return {"validate_only_s": time.perf_counter() - t0, "valid": len(res.families)}


def features(path):
    import time

    import numpy as np

    from pkh_targeting import validate_records
    from pkh_targeting.features import PMTFeatureBuilder

    fam, mem = pd.read_parquet(path / "families.parquet"), pd.read_parquet(path / "members.parquet")
    res = validate_records(fam, mem, reference_date="2025-07-01")
    t0 = time.perf_counter()
    b = PMTFeatureBuilder().fit(res)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = b.transform(res).to_numpy(dtype=np.float32)
    return {"fit_s": fit_s, "transform_s": time.perf_counter() - t0, "features": X.shape[1]}


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    rows = []
    for n in sizes:
        r = measure(synth, n)
        rows.append(
            {
                "stage": "generate_registry",
                "families": n,
                "seconds": r["seconds"],
                "peak_gib": r["peak_rss_gib"],
                "note": f"{r['members']:,} members",
            }
        )
        path = registry(n)
        r = measure(validate, path)
        rows.append(
            {
                "stage": "validate_records",
                "families": n,
                "seconds": r["validate_only_s"],
                "peak_gib": r["peak_rss_gib"],
                "note": f"{r['valid']:,} valid families",
            }
        )
        r = measure(features, path)
        rows.append(
            {
                "stage": "features fit",
                "families": n,
                "seconds": r["fit_s"],
                "peak_gib": r["peak_rss_gib"],
                "note": "PMTFeatureBuilder.fit",
            }
        )
        rows.append(
            {
                "stage": "features transform",
                "families": n,
                "seconds": r["transform_s"],
                "peak_gib": r["peak_rss_gib"],
                "note": f"float32 matrix, {r['features']} features (peak of validate+fit+transform)",
            }
        )
        print(table(rows[-4:]), flush=True)
    print()
    print(table(rows))
