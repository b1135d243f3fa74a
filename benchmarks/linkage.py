"""Benchmark: linking records of other registries to members at national scale (issue: evidence from
other registries). Run on demand:

    python benchmarks/linkage.py [MEMBERS]      # default 1000000 members against as many records

A synthetic registry of about MEMBERS members, and MEMBERS records of other registries: those the
generator writes about its people (NIKs missing or mistyped, names spelled otherwise, namesakes),
topped up with the records of another registry's people (strangers to this one). Stages, each in a
fresh process (peak memory is the stage's):

- ``train``: the linker (`RecordLinker.fit`, Splink EM) on a sample of 20,000 families and their records;
- ``link``: `RecordLinker.link` of all records to all members (exact NIK, then Splink on DuckDB);

then precision and recall by kind of record against the generator's truth.
"""

from __future__ import annotations

import sys

import pandas as pd
from _common import DATA, measure, table

REF = "2025-07-01"


def make(n_members: int) -> None:
    from pkh_targeting import generate_registry

    out = DATA / f"linkage-{n_members}"
    if (out / "records.parquet").exists():
        return
    n_families = int(n_members / 3.8)
    reg = generate_registry(n_families, seed=21, regions_seed=21, reference_date=REF)
    other = generate_registry(n_families, seed=22, regions_seed=21, reference_date=REF)
    members = reg.members.head(n_members)
    families = reg.families[reg.families["family_id"].isin(members["family_id"])]
    truth = reg.record_truth
    keep = truth["family_id"].isna() | truth["family_id"].isin(families["family_id"])
    records, truth = reg.registry_records[keep.to_numpy()], truth[keep.to_numpy()]
    need = max(n_members - len(records), 0)
    # another registry's people: their NIKs get the serials the generator gives strangers (5000 and
    # up), since NIKs are unique in the country and two synthetic registries would repeat 0001
    extra = other.registry_records.head(need).assign(
        record_id=lambda d: "X" + d["record_id"],
        nik=lambda d: d["nik"].str.slice(0, 12) + (5000 + d.index.to_series() % 5000).astype(str).to_numpy(),
    )
    extra_truth = other.record_truth.head(need).assign(
        record_id=lambda d: "X" + d["record_id"], family_id=pd.NA, member_no=pd.NA, kind="stranger"
    )
    out.mkdir(parents=True, exist_ok=True)
    families.to_parquet(out / "families.parquet", index=False)
    members.to_parquet(out / "members.parquet", index=False)
    pd.concat([records, extra], ignore_index=True).head(n_members).to_parquet(out / "records.parquet", index=False)
    pd.concat([truth, extra_truth], ignore_index=True).head(n_members).to_parquet(out / "truth.parquet", index=False)


def _inputs(folder):
    from pkh_targeting.records import validate_records
    from pkh_targeting.records.evidence import validate_evidence

    fam, mem = pd.read_parquet(folder / "families.parquet"), pd.read_parquet(folder / "members.parquet")
    households = validate_records(fam, mem, reference_date=REF)
    records = validate_evidence(pd.read_parquet(folder / "records.parquet"), "registry_records", reference_date=REF)
    return households.families, households.members, records.valid


def train(folder) -> dict:
    from pkh_targeting.linkage import RecordLinker

    fam, mem, rec = _inputs(folder)
    ids = fam["family_id"].iloc[:20_000]
    sample_mem = mem[mem["family_id"].isin(ids)]
    truth = pd.read_parquet(folder / "truth.parquet")
    mine = truth["family_id"].isin(ids) | (truth.index < 30_000)
    linker = RecordLinker().fit(sample_mem, fam[fam["family_id"].isin(ids)], rec[mine.to_numpy()], reference_date=REF)
    (folder / "linker.json").write_text(linker.to_json())
    return {"members": len(sample_mem), "records": int(mine.sum())}


def link(folder) -> dict:
    from pkh_targeting.linkage import RecordLinker

    fam, mem, rec = _inputs(folder)
    linker = RecordLinker.from_json((folder / "linker.json").read_text())
    links = linker.link(mem, fam, rec, reference_date=REF)
    links.to_parquet(folder / "links.parquet", index=False)
    return {"members": len(mem), "records": len(rec)}


def accuracy(folder) -> list:
    truth = pd.read_parquet(folder / "truth.parquet")
    links = pd.read_parquet(folder / "links.parquet")
    j = truth.merge(links, on=["source", "record_id"], suffixes=("_true", ""))
    j["linked"] = j["family_id"].notna()
    j["correct"] = ((j["family_id"] == j["family_id_true"]) & (j["member_no"] == j["member_no_true"])).fillna(False)
    rows = [{"records": "all (precision)", "n": len(j), "linked": j["linked"].mean(),
             "correct": j["correct"].sum() / max(j["linked"].sum(), 1)}]  # fmt: skip
    for kind, d in j.groupby("kind"):
        rows.append({"records": kind, "n": len(d), "linked": d["linked"].mean(), "correct": d["correct"].mean()})
    return rows


def main(n_members: int) -> None:
    folder = DATA / f"linkage-{n_members}"
    made = measure(make, n_members)
    print(f"data: {made['seconds']:.0f} s")
    rows = []
    for name, fn in (("train", train), ("link", link)):
        m = measure(fn, folder)
        rows.append({"stage": name, "members": m["members"], "records": m["records"], "seconds": m["seconds"],
                     "peak GiB": m["peak_rss_gib"]})  # fmt: skip
    print(table(rows))
    print(table(accuracy(folder)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
