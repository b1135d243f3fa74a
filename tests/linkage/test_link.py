"""Linkage of registry records to members: real Splink on DuckDB, measured against the synthetic truth."""

import importlib.util
import json
import os
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REF, hand_made_family
from pkh_targeting.cli import app
from pkh_targeting.linkage import LINK_COLUMNS, RecordLinker, link_records
from pkh_targeting.linkage._splink import _near_nik
from pkh_targeting.synth import generate_registry


@pytest.fixture(scope="module")
def unseen():
    """A population of its own (own regions and seed), linked with a linker trained on it."""
    reg = generate_registry(3_000, seed=41, regions_seed=41, reference_date=REF)
    return reg, link_records(reg.members, reg.families, reg.registry_records, reference_date=REF)


def _scored(reg, links):
    j = reg.record_truth.merge(links, on=["source", "record_id"], suffixes=("_true", ""), validate="1:1")
    j["linked"] = j["family_id"].notna()
    same = (j["family_id"] == j["family_id_true"]) & (j["member_no"] == j["member_no_true"])
    j["correct"] = same.fillna(False).astype(bool)
    return j


def test_every_record_once_in_the_records_order(unseen):
    reg, res = unseen
    assert list(res.links.columns) == LINK_COLUMNS
    assert len(res.links) == len(reg.registry_records) and res.quarantine.empty
    pd.testing.assert_series_equal(
        res.links["record_id"], reg.registry_records["record_id"].reset_index(drop=True), check_names=False
    )
    assert set(res.links["method"]) == {"nik_exact", "probabilistic"}


def test_precision_and_recall_by_kind_on_an_unseen_population(unseen):
    reg, res = unseen
    j = _scored(reg, res.links)
    assert j["correct"].sum() / j["linked"].sum() >= 0.98
    by_kind = j.groupby("kind")[["linked", "correct"]].mean()
    assert by_kind.loc["exact_nik", "correct"] >= 0.99
    for kind in ("nik_missing", "nik_one_digit", "nik_two_digits"):
        assert by_kind.loc[kind, "correct"] >= 0.80, kind
    assert by_kind.loc["namesake", "linked"] <= 0.20
    assert by_kind.loc["stranger", "linked"] <= 0.02
    exact = j["method"] == "nik_exact"
    assert (j.loc[exact, "match_probability"] == 1).all() and j.loc[exact, "correct"].all()


def test_the_same_data_and_seed_give_the_same_model_and_links(unseen):
    reg, res = unseen
    again = link_records(reg.members, reg.families, reg.registry_records, reference_date=REF)
    assert again.linker.to_json() == res.linker.to_json()
    pd.testing.assert_frame_equal(again.links, res.links)


def test_a_saved_linker_links_a_new_batch_without_retraining(unseen, tmp_path):
    reg, res = unseen
    text = res.linker.to_json()
    assert json.loads(text)["splink_model"]["comparisons"]  # the trained model, as JSON
    loaded = RecordLinker.from_json(text)
    batch = generate_registry(800, seed=42, regions_seed=41, reference_date=REF)
    out = link_records(batch.members, batch.families, batch.registry_records, linker=loaded, reference_date=REF)
    j = _scored(batch, out.links)
    assert j["correct"].sum() / j["linked"].sum() >= 0.98
    assert j.loc[j["kind"].str.startswith("nik_"), "correct"].mean() >= 0.8  # mistyped and missing NIKs link too


def test_a_namesake_is_a_stranger_and_a_mistyped_nik_is_not(unseen):
    fam, mem = hand_made_family()
    mem["name"] = ["Budi Santoso", "Siti Aminah", "Ayu Lestari"]
    others = [hand_made_family(f"KK-{i:03d}") for i in range(2, 40)]
    for i, (f, m) in enumerate(others):
        m["nik"] = m["nik"].str.slice(0, 12) + [f"{i + 10:02d}{k}1" for k in range(3)]
        m["name"] = [f"Orang {i} Satu", f"Orang {i} Dua", f"Orang {i} Tiga"]
    families = pd.concat([fam, *(f for f, _ in others)], ignore_index=True)
    members = pd.concat([mem, *(m for _, m in others)], ignore_index=True)
    base = {"sex": 1, "regency_code": "3273", "value": None, "as_of": "2025-06-01"}
    records = pd.DataFrame(
        [
            {
                **base,
                "source": "vehicle",
                "record_id": "1",
                "nik": "3273011205850001",
                "full_name": "BUDI SANTOSO",
                "birth_date": "1985-05-12",
            },
            {
                **base,
                "source": "vehicle",
                "record_id": "2",
                "nik": "3273011205850007",
                "full_name": "Budi Santoso",
                "birth_date": "1985-05-12",
            },
            {
                **base,
                "source": "vehicle",
                "record_id": "3",
                "nik": None,
                "full_name": "H. Budi Santoso",
                "birth_date": "1985-12-05",
            },
            # a namesake: same name, sex and regency, another birth date and NIK
            {
                **base,
                "source": "vehicle",
                "record_id": "4",
                "nik": "3273010707600003",
                "full_name": "Budi Santoso",
                "birth_date": "1960-07-07",
            },
        ]
    )
    res = link_records(members, families, records, linker=unseen[1].linker, reference_date=REF)
    got = res.links.set_index("record_id")
    assert got.loc["1", "method"] == "nik_exact" and got.loc["1", "member_no"] == 1
    assert got.loc["2", "method"] == "probabilistic" and got.loc["2", "family_id"] == "KK-001"
    assert got.loc["3", "family_id"] == "KK-001"  # no NIK, a title, day and month swapped
    assert pd.isna(got.loc["4", "family_id"]) and got.loc["4", "match_probability"] < 0.5
    # four records are too few for EM: the linker trained here keeps its priors and still tells them apart
    alone = link_records(members, families, records, reference_date=REF).links.set_index("record_id")
    assert alone.loc["2", "family_id"] == "KK-001" and pd.isna(alone.loc["4", "family_id"])


def test_bad_records_are_quarantined_with_their_reason_and_none_is_lost(small_registry):
    rec = small_registry.registry_records.head(200).copy()
    rec["birth_date"] = rec["birth_date"].astype("string")
    rec.loc[0, "source"] = "boat_registry"
    rec.loc[1, "birth_date"] = "31/02/1980"
    rec.loc[2, "regency_code"] = "33A1"
    rec.loc[3, "value"] = -5
    rec.loc[4, "record_id"] = rec.loc[5, "record_id"]
    rec.loc[4, "source"] = rec.loc[5, "source"]
    rec.loc[6, "as_of"] = pd.Timestamp("2030-01-01")
    res = link_records(small_registry.members, small_registry.families, rec, reference_date=REF)
    q = res.quarantine.set_index("row")
    assert q.loc[0, "rule"] == "codes" and q.loc[1, "rule"] == "dtype" and q.loc[2, "rule"] == "pattern"
    assert q.loc[3, "rule"] == "range" and q.loc[5, "rule"] == "duplicate_key" and q.loc[6, "rule"] == "future_date"
    assert q.loc[5, "key"] == f"{rec.loc[5, 'source']}/{rec.loc[5, 'record_id']}"
    assert len(res.links) + res.quarantine["row"].nunique() == len(rec)
    assert not q["value"].astype(str).str.contains(str(rec.loc[0, "full_name"]), regex=False).any()


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is not None, reason="pyspark is installed")
def test_the_spark_engine_without_pyspark_says_how_to_get_it(small_registry, tmp_path):
    reg = small_registry
    paths = reg.write(tmp_path / "reg")
    res = CliRunner().invoke(
        app,
        ["link", "--families", str(paths / "families.parquet"), "--members", str(paths / "members.parquet"),
         "--registry-records", str(paths / "registry_records.parquet"), "--out", str(tmp_path / "links"),
         "--engine", "spark", "--reference-date", str(REF)],
    )  # fmt: skip
    assert res.exit_code == 2 and "pkh-targeting[spark]" in res.stderr


@pytest.mark.skipif(
    not os.environ.get("CI") and (importlib.util.find_spec("pyspark") is None or shutil.which("java") is None),
    reason="needs pyspark and Java (.ci/run installs the [spark] extra)",
)
def test_the_spark_engine_links_as_duckdb_does(unseen):
    reg, res = unseen
    spark = RecordLinker.from_json(res.linker.to_json())
    spark.engine = "spark"
    ids = reg.families["family_id"].iloc[:600]
    fam, mem = reg.families[reg.families["family_id"].isin(ids)], reg.members[reg.members["family_id"].isin(ids)]
    records = reg.registry_records.iloc[:1500]
    duck = link_records(mem, fam, records, linker=res.linker, reference_date=REF).links
    on_spark = link_records(mem, fam, records, linker=spark, reference_date=REF).links
    pd.testing.assert_frame_equal(on_spark.drop(columns="match_probability"), duck.drop(columns="match_probability"))
    assert np.allclose(on_spark["match_probability"], duck["match_probability"], atol=1e-6)


def _one_edit(s: str, ch: str) -> list[str]:
    """Every string one edit from ``s``: ``ch`` put in or over each place, each place deleted, each
    neighbouring two swapped."""
    out = [s[:i] + ch + s[i + 1 :] for i in range(len(s))] + [s[:i] + s[i + 1 :] for i in range(len(s))]
    out += [s[:i] + ch + s[i:] for i in range(len(s) + 1)]
    return out + [s[:i] + s[i + 1] + s[i] + s[i + 2 :] for i in range(len(s) - 1)]


@pytest.mark.parametrize("nik", ["abcdefghijklmnop", "3273011205850001", "1111110000000000"])
def test_the_near_nik_test_keeps_every_pair_within_two_edits(nik):
    """The cheap test before the edit distance drops no pair of the two NIK levels: every string
    two edits or fewer from a NIK (in DuckDB's own distance) passes it, at every place."""

    near = {t for s in _one_edit(nik, "X") for t in [s, *_one_edit(s, "Y"), *_one_edit(s, "X")]}
    with duckdb.connect() as con:
        con.register("p", pd.DataFrame({"l": nik, "r": sorted(near)}))
        within, dropped = con.execute(
            f"select count(*) filter (damerau_levenshtein(l, r) <= 2),"
            f" count(*) filter (damerau_levenshtein(l, r) <= 2 and not ({_near_nik('l', 'r')})) from p"
        ).fetchone()
    assert within > 1000 and dropped == 0


def test_the_near_nik_test_is_false_for_most_strangers(unseen):
    """It spares the distance for most pairs of different people: of different regions (most of
    Splink's random pairs) and of one region (an office's), whose serial numbers mostly agree."""

    nik = unseen[0].members["nik"].dropna().drop_duplicates()
    pairs = pd.DataFrame(
        {"l": nik.sample(3000, random_state=0).to_numpy(), "r": nik.sample(3000, random_state=1).to_numpy()}
    )
    one_region = pairs.assign(r=pairs["l"].str[:6] + pairs["r"].str[6:])
    passed = {}
    for name, p in (("regions", pairs[pairs["l"].str[:6] != pairs["r"].str[:6]]), ("one region", one_region)):
        with duckdb.connect() as con:
            con.register("p", p[p["l"] != p["r"]])
            passed[name] = con.execute(f"select avg(({_near_nik('l', 'r')})::int) from p").fetchone()[0]
    assert passed["regions"] < 0.2 and passed["one region"] < 0.05, passed  # passing all would spare nothing
