"""Benchmark: end to end at scale (issue: scale). Run on demand:

    python benchmarks/scale.py [N ...]        # default 100000 1000000; 10000000 takes ~30 min

For each size, in fresh processes (peak memory is per stage):
- ``synth``: generate the registry (in pieces of 1M families) and write it as Parquet;
- ``stages``: one process runs validate -> features -> model (with calibration) -> reasons -> rank
  on the whole batch in memory, timing each stage (sizes up to 2M);
- ``score``: what ``pkh-targeting score`` runs, `batch.score_files` from the files in chunks of 200k
  families, without and (up to 2M families) with reasons;
- ``raw predict``: the same model's LightGBM ``predict`` on the prebuilt float32 feature matrix, the
  limit any pipeline could reach; the ratio is end-to-end scoring time over it.

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
    import numpy as np

    from pkh_targeting import TargetingModel, rank_for_verification, read_records, validate_records
    from pkh_targeting.rules import apply_rules

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
    lap("validate_s")
    X = model.features(res.families.reset_index(drop=True), res.members)
    lap("features_s")
    has = apply_rules(res.families, res.members, model.rules_)["has_component"].to_numpy()
    p = np.where(has, model._calibrate(model.predict_proba_raw(X)), 0.0)
    lap("model_calibration_s")
    Xf = X.to_numpy(dtype=np.float32)
    t0 = time.perf_counter()
    model.classifier_.predict(Xf, raw_score=True)
    out["raw_predict_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    scores = model.score_records(res.families, res.members, reference_date=REF, reasons="auto")
    lap("score_records_with_reasons_s")
    rank_for_verification(scores.scores, budget=max(n // 100, 100))
    lap("rank_s")
    out["mean_p"] = float(p.mean())
    return out


def score(n: int, model_path: Path, reasons: str) -> dict:
    from pkh_targeting import TargetingModel
    from pkh_targeting.batch import score_files

    model = TargetingModel.load(model_path)
    path = DATA / f"scale-{n}"
    s = score_files(
        model, path / "families", path / "members", DATA / f"scores-{n}-{reasons}", reference_date=REF, reasons=reasons
    )
    return {"scored": s.n_scored, "quarantined": s.quarantined["families"]}


def raw_predict(n: int, model_path: Path) -> dict:
    """LightGBM predict on the prebuilt matrix of (up to) the first 1M families, scaled to n."""
    import numpy as np

    from pkh_targeting import TargetingModel
    from pkh_targeting.batch import ChunkedBatch
    from pkh_targeting.validation import validate_records

    model = TargetingModel.load(model_path)
    path = DATA / f"scale-{n}"
    chunk = next(iter(ChunkedBatch(path / "families", path / "members", chunk_size=max(n, 1))))
    res = validate_records(chunk.families.head(PIECE), chunk.members, reference_date=REF)
    X = model.features(res.families.reset_index(drop=True), res.members).to_numpy(dtype=np.float32)
    t0 = time.perf_counter()
    model.classifier_.predict(X, raw_score=True)
    seconds = time.perf_counter() - t0
    return {"predict_s": seconds * n / len(X), "rows": len(X), "trees": model.classifier_.num_trees()}


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
        if n <= 2_000_000:
            r = measure(stages, n, model_path)
            for k, v in r.items():
                if k.endswith("_s"):
                    report({"families": n, "stage": k[:-2], "seconds": v, "peak_gib": r["peak_rss_gib"],
                                 "families_per_s": n / v, "note": "in memory, one process"})  # fmt: skip
        raw = measure(raw_predict, min(n, PIECE), model_path) if n <= PIECE else None
        for reasons in ("none", "auto") if n <= 2_000_000 else ("none",):
            r = measure(score, n, model_path, reasons)
            note = f"score_files, reasons={reasons}, {r['quarantined']:,} quarantined"
            if raw and reasons == "none":
                ratio = r["seconds"] / raw["predict_s"]
                note += f"; {ratio:.1f}x raw predict ({raw['predict_s']:.1f} s, {raw['trees']} trees)"
            report({"families": n, "stage": "score (streamed)", "seconds": r["seconds"],
                         "peak_gib": r["peak_rss_gib"], "families_per_s": n / r["seconds"], "note": note})  # fmt: skip
    print(table(rows), flush=True)
