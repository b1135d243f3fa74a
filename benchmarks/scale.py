"""Benchmark: end to end at scale (issue: scale). Run on demand:

    python benchmarks/scale.py [N ...]        # default 100000 1000000; 10000000 takes ~20 min

For each size, in fresh processes (peak memory is per stage):
- ``synth``: generate the registry (in pieces of 1M families) and write it as Parquet;
- ``stages``: one process runs read -> validate -> features -> predict -> reasons (the families a list
  can reach) -> write on the whole batch in memory, timing each stage (sizes up to 2M);
- ``score``: what ``pkh-targeting score`` runs, `scoring.score_files` from the files in chunks of 100k
  families, with one process per core (``--jobs -1``, the default) and, up to 1M families, in one
  process; without reasons and (up to 2M families) with the default ones, with its ratios to
  ``--reasons none`` and to read + raw predict;
- ``raw predict``: the same model's LightGBM ``predict`` (all its boosters: the welfare model's and
  the classifier's, two threads) on the prebuilt feature matrices of the first 1M families, scaled to
  the size: the limit any pipeline could reach; the ratio is end-to-end scoring time over it;
- ``rank``: what ``pkh-targeting rank`` runs: verification lists for 1% of the families from the
  streamed scores (reasons off), their summary, and the field lists (Excel and CSV) with the
  families' names; and ``rank --model``: the same, the listed families explained from their records.

Peak memory is that of the stage's process and its worker processes together.

The model is trained once on 50k families of the same regions and saved under /tmp/pkh-bench.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _common import DATA, measure, table

REF = "2025-07-01"
PIECE = 1_000_000


def train_model() -> Path:
    from pkh_targeting import TargetingModel, generate_registry

    path = DATA / "model-50k"
    if not (path / "model.json").exists():
        reg = generate_registry(50_000, seed=900, regions_seed=0, reference_date=REF)
        TargetingModel().fit(reg.families, reg.members, reference_date=REF).save(path)
    return path


def synth(n: int) -> dict:
    from pkh_targeting import generate_registry
    from pkh_targeting.outputs import write_parquet

    path = DATA / f"scale-{n}"
    members = 0
    for i, start in enumerate(range(0, n, PIECE)):
        reg = generate_registry(min(PIECE, n - start), seed=100 + i, regions_seed=0, reference_date=REF)
        # NIK serials restart in every piece: shift them so that pieces do not share NIKs
        nik = reg.members["nik"]
        serial = (nik.str.slice(12).astype("Int64") + 500 * i).astype("string").str.zfill(4)
        reg.members["nik"] = nik.str.slice(0, 12) + serial
        write_parquet(reg.families, path / "families" / f"part-{i:03d}.parquet", index=False)
        write_parquet(reg.members, path / "members" / f"part-{i:03d}.parquet", index=False)
        members += len(reg.members)
    (path / "_done").touch()
    return {"members": members}


def stages(n: int, model_path: Path) -> dict:
    """The stages of scoring, one after the other on the whole batch in one process: read, validate,
    features, predict (model, calibration, the scored-batch table), reasons (for the families a list can
    reach, `reachable`) and write."""
    import numpy as np

    from pkh_targeting import TargetingModel, read_records, validate_records
    from pkh_targeting.explain import Explainer
    from pkh_targeting.modeling import reachable
    from pkh_targeting.modeling._linked import components
    from pkh_targeting.modeling._scored import scores_frame
    from pkh_targeting.outputs import write_parquet

    model = TargetingModel.load(model_path)
    path = DATA / f"scale-{n}"
    out, t = {}, time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        out[name] = now - t
        t = now

    fam, mem = read_records(path / "families", path / "members")
    lap("read_s")
    res = validate_records(fam, mem, reference_date=REF)
    del fam, mem
    fam, mem = res.families.reset_index(drop=True), res.members
    lap("validate_s")
    comps = components(fam, mem, None, model.rules_)
    X = model.features(fam, mem, comps, reference_date=REF)
    lap("features_s")
    has = comps["has_component"].to_numpy()
    p = np.where(has, model.calibrated(model.predict_proba_raw(X)), 0.0)
    scores = scores_frame(model, fam, comps, p, X, "none", 0.0, "id")
    lap("predict_s")
    rows = np.flatnonzero(reachable(scores))
    by_rule = {k: comps[k].to_numpy()[rows] for k in ("component_died", "excluded")}
    receives = fam["receives_pkh"].to_numpy(bool)[rows]
    reasons = Explainer(model).reasons(X.iloc[rows], fam.iloc[rows], receives, has[rows], by_rule=by_rule)
    scores.loc[rows, "reasons"] = reasons.to_numpy()
    lap("reasons_s")
    write_parquet(scores, DATA / f"stages-{n}.parquet", index=False)
    lap("write_s")
    out["explained"] = len(rows)
    return out


def score(n: int, model_path: Path, reasons: str, n_jobs: int) -> dict:
    from pkh_targeting import TargetingModel
    from pkh_targeting.scoring import score_files

    model = TargetingModel.load(model_path)
    path = DATA / f"scale-{n}"
    out = DATA / f"scores-{n}-{reasons}"
    s = score_files(model, path / "families", path / "members", out, n_jobs=n_jobs, reference_date=REF, reasons=reasons)
    return {"scored": s.n_scored, "quarantined": s.quarantined["families"]}


def rank(n: int, model_path: Path | None = None) -> dict:
    """What ``pkh-targeting rank`` runs (`make_lists`): lists for 1% of the families from the streamed
    scores (reasons off), their summary, and the Excel/CSV field lists with the visited families' names;
    with ``model_path``, as ``rank --model``: the listed families explained from their records first."""
    from pkh_targeting import TargetingModel, make_lists

    path = DATA / f"scale-{n}"
    model = TargetingModel.load(model_path) if model_path is not None else None
    lists = make_lists(
        DATA / f"scores-{n}-none" / "scores.parquet",
        path / "families",
        max(n // 100, 100),
        DATA / f"lists-{n}",
        members=path / "members" if model is not None else None,
        public_lists=False,
        model=model,
        reference_date=REF,
    )
    return {"ranked": len(lists.ranked), "explained": int(lists.ranked["reasons"].notna().sum())}


def raw_predict(n: int, model_path: Path) -> dict:
    """Every LightGBM booster of the model on its prebuilt matrix of the first piece (up to 1M families), scaled
    to n."""
    import numpy as np
    import pandas as pd

    from pkh_targeting import TargetingModel, read_records
    from pkh_targeting.modeling._welfare import _as_lgbm
    from pkh_targeting.records import validate_records

    model = TargetingModel.load(model_path)
    path = DATA / f"scale-{n}"
    fam, mem = read_records(path / "families" / "part-000.parquet", path / "members" / "part-000.parquet")
    res = validate_records(fam, mem, reference_date=REF)
    del fam, mem
    X = model.features(res.families.reset_index(drop=True), res.members)
    welfare = model.welfare_.models_[None]["stack"]
    boosters = []  # (booster, matrix, kwargs): categories as LightGBM's codes, as it converts pandas input
    for part in (p for p in welfare if "lgbm" in p):
        Xw = _as_lgbm(X[model.welfare_.feature_names_in_], list(part["categories"]), part["categories"])
        codes = Xw.apply(lambda s: s.cat.codes.replace(-1, np.nan) if isinstance(s.dtype, pd.CategoricalDtype) else s)
        booster = part["lgbm"].booster_
        M = codes.to_numpy(dtype=np.float64)
        assert np.allclose(booster.predict(M[:1000]), booster.predict(Xw.iloc[:1000]))
        boosters.append((booster, M, {}))
    boosters.append((model.classifier_, X.to_numpy(dtype=np.float32), {"raw_score": True}))
    t0 = time.perf_counter()
    for booster, M, kwargs in boosters:
        booster.predict(M, **kwargs)
    seconds = time.perf_counter() - t0
    trees = " + ".join(str(b.num_trees()) for b, _, _ in boosters)
    return {"predict_s": seconds * n / len(X), "rows": len(X), "trees": trees}


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    model_path = train_model()
    rows = []

    def report(row):
        rows.append(row)
        print(" | ".join(f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
                         for v in row.values()), flush=True)  # fmt: skip

    for n in sizes:
        if not (DATA / f"scale-{n}" / "_done").exists():
            r = measure(synth, n)
            report({"families": n, "stage": "synth + write", "seconds": r["seconds"],
                         "peak_gib": r["peak_rss_gib"], "families_per_s": n / r["seconds"],
                         "note": f"{r['members']:,} members"})  # fmt: skip
        read = None
        if n <= 2_000_000:
            r = measure(stages, n, model_path)
            read = r["read_s"]
            for k, v in r.items():
                if k.endswith("_s"):
                    note = "in memory, one process" + (f"; {r['explained']:,} families" if k == "reasons_s" else "")
                    report({"families": n, "stage": k[:-2], "seconds": v, "peak_gib": r["peak_rss_gib"],
                                 "families_per_s": n / v, "note": note})  # fmt: skip
        raw = measure(raw_predict, n, model_path)
        report({"families": n, "stage": "raw LightGBM predict", "seconds": raw["predict_s"],
                "peak_gib": raw["peak_rss_gib"], "families_per_s": n / raw["predict_s"],
                "note": f"trees: {raw['trees']}"})  # fmt: skip
        runs = [("none", -1), ("auto", -1), ("none", 1)] if n <= PIECE else [("none", -1), ("auto", -1)]
        floor = raw["predict_s"] + read if read else None  # read + raw predict: what no pipeline beats
        took = {}
        for reasons, n_jobs in runs if n <= 2_000_000 else [("none", -1)]:
            r = measure(score, n, model_path, reasons, n_jobs)
            took.setdefault(reasons, r["seconds"])
            note = f"reasons={reasons}, jobs={n_jobs}, {r['quarantined']:,} quarantined"
            if floor:
                note += f"; {r['seconds'] / floor:.2f}x read + raw predict"
            if reasons == "auto":
                note += f"; {r['seconds'] / took['none']:.2f}x --reasons none"
            report({"families": n, "stage": "score (streamed)", "seconds": r["seconds"],
                         "peak_gib": r["peak_rss_gib"], "families_per_s": n / r["seconds"], "note": note})  # fmt: skip
        for explain in (None, model_path):
            r = measure(rank, n, explain)
            note = f"{r['ranked']:,} visits, {r['explained']:,} with reasons"
            report({"families": n, "stage": "rank" + (" --model" if explain else ""), "seconds": r["seconds"],
                    "peak_gib": r["peak_rss_gib"], "families_per_s": n / r["seconds"], "note": note})  # fmt: skip
    print(table(rows), flush=True)
