"""Records of other registries in the model: evidence features, the death rule, reasons, persistence."""

import json

import openpyxl
import pandas as pd
import pytest
import yaml

from conftest import REF, hand_made_family, top_precision
from pkh_targeting import TargetingModel, generate_registry, make_lists, score_files
from pkh_targeting.exceptions import DataQualityWarning
from pkh_targeting.rules import load_rules


@pytest.fixture(scope="module")
def unseen():
    return generate_registry(6_000, seed=4, regions_seed=0, reference_date=REF)


def test_the_records_make_both_lists_better_on_an_unseen_population(evidence_model, plain_model, unseen):
    without = plain_model
    kw = {"reference_date": REF, "reasons": "none"}
    with_records = evidence_model.score(unseen.families, unseen.members, registry_records=unseen.registry_records, **kw)
    plain = without.score(unseen.families, unseen.members, **kw)
    gain = {
        k: top_precision(with_records, unseen.truth, k) - top_precision(plain, unseen.truth, k)
        for k in ("inclusion", "exclusion")
    }
    assert gain["inclusion"] >= 0.02 and gain["exclusion"] >= -0.01, gain


def test_reasons_name_the_evidence_and_its_strength(evidence_model, unseen):
    for language, words in (
        ("id", ("cocok NIK", "cocok nama dan tanggal lahir 0,")),
        ("en", ("NIK match", "name and birth date match 0.")),
    ):
        scores = evidence_model.score(
            unseen.families,
            unseen.members,
            registry_records=unseen.registry_records,
            reference_date=REF,
            language=language,
        )
        reasons = scores["reasons"].dropna()
        assert reasons.str.contains(words[0], regex=False).any() and reasons.str.contains(words[1], regex=False).any()
    pln = reasons[reasons.str.contains(r"PLN connection \d", regex=True)]
    pattern = r"PLN connection [\d,]+ VA, \d+ VA in DTSEN \((?:NIK match|name and birth date match 0\.\d\d)\)"
    assert len(pln) and pln.str.contains(pattern, regex=True).all()


def test_scoring_without_the_records_warns_and_treats_the_evidence_as_unknown(evidence_model, unseen):
    with pytest.warns(DataQualityWarning, match="registry_records"):
        out = evidence_model.score_records(unseen.families.head(300), unseen.members, reference_date=REF)
    ev = [c for c in out.features.columns if c.startswith("ev_")]
    assert ev and out.features[ev].isna().all().all()
    assert out.scores["p_eligible"].between(0, 1).all()


def test_save_and_load_keep_the_linker_as_json(evidence_model, unseen, tmp_path):
    kw = {"registry_records": unseen.registry_records, "reference_date": REF}
    fam = unseen.families.head(1500)
    before = evidence_model.score(fam, unseen.members, **kw)
    path = evidence_model.save(tmp_path / "m")
    state = json.loads((path / "model.json").read_text())
    assert state["registry"]["linker"]["splink_model"]["comparisons"]
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pickle"))
    after = TargetingModel.load(path).score(fam, unseen.members, **kw)
    pd.testing.assert_frame_equal(before.drop(columns="model_version"), after.drop(columns="model_version"))


def _family_with_one_component():
    """The hand-made family: its only PKH component is the girl in SD (member 3, NIK ...0003)."""
    fam, mem = hand_made_family("KK-DEATH")
    mem["name"] = ["Budi Santoso", "Siti Aminah", "Ayu Lestari"]
    return fam, mem


def _death(nik, name, probability_hint=""):
    return {
        "source": "death", "record_id": f"D-{nik}{probability_hint}", "nik": nik, "full_name": name,
        "birth_date": "2017-03-15", "sex": 2, "regency_code": "3273", "value": None, "as_of": "2025-05-01",
    }  # fmt: skip


@pytest.mark.parametrize(
    "language, text", [("id", "komponen PKH meninggal dunia (Dukcapil)"), ("en", "the PKH component died (Dukcapil)")]
)
def test_a_family_whose_only_component_died_is_an_inclusion_error_by_rule(evidence_model, language, text):
    fam, mem = _family_with_one_component()
    records = pd.DataFrame([_death("3273015503170003", "AYU LESTARI")])
    out = evidence_model.score_records(
        fam, mem, registry_records=records, reference_date=REF, language=language, reasons="all"
    )
    row = out.scores.iloc[0]
    assert row["n_components"] == 0 and row["benefit_rp"] == 0 and row["p_eligible"] == 0
    assert row["error_type"] == "inclusion" and row["error_score"] == 1 and row["reasons"] == text
    # the same family without the death record keeps its component
    alive = evidence_model.score_records(fam, mem, registry_records=records.iloc[:0], reference_date=REF, reasons="all")
    assert alive.scores.iloc[0]["n_components"] == 1 and alive.scores.iloc[0]["p_eligible"] > 0


def test_a_death_matched_below_the_rules_threshold_does_not_remove_the_member(evidence_model):
    fam, mem = _family_with_one_component()
    # no NIK, a name spelled otherwise and another birth date: a weak candidate at most
    weak = {**_death(None, "AYU LESTARY"), "birth_date": "2016-03-15", "record_id": "D-weak"}
    out = evidence_model.score_records(fam, mem, registry_records=pd.DataFrame([weak]), reference_date=REF)
    link = out.evidence.links.iloc[0]
    assert link["match_probability"] < load_rules().evidence.death_match_probability
    assert out.scores.iloc[0]["n_components"] == 1


def test_a_hard_exclusion_is_switched_on_in_the_rules_yaml(evidence_train, tmp_path):
    rules = load_rules().model_dump()
    rules["version"] = "pkh-2025-hard-asn"
    rules["evidence"]["exclusions"]["civil_servant"]["mode"] = "hard"
    path = tmp_path / "hard.yaml"
    path.write_text(yaml.safe_dump(rules))
    reg = generate_registry(2_500, seed=6, regions_seed=0, reference_date=REF)
    model = TargetingModel(rules=str(path), cv={"n_splits": 3}).fit(
        reg.families, reg.members, registry_records=reg.registry_records, reference_date=REF
    )
    out = model.score_records(
        reg.families, reg.members, registry_records=reg.registry_records, reference_date=REF, reasons="all"
    )
    links = out.evidence.links
    asn = links[(links["source"] == "civil_servant") & (links["match_probability"] >= 0.9)]["family_id"].unique()
    hit = out.scores["family_id"].isin(asn)
    assert hit.any() and (out.scores.loc[hit, "p_eligible"] == 0).all()
    beneficiaries = hit & out.scores["receives_pkh"]
    assert (
        out.scores.loc[beneficiaries, "reasons"] == "kriteria pengecualian terpenuhi (ASN, TNI atau Polri di keluarga)"
    ).all()


def test_a_batch_scored_in_chunks_links_once_and_its_lists_show_the_evidence(evidence_model, unseen, tmp_path):
    reg = generate_registry(3_000, seed=7, regions_seed=0, reference_date=REF)
    files = reg.write(tmp_path / "batch")
    fam, mem, rec = (files / f"{t}.parquet" for t in ("families", "members", "registry_records"))
    out = tmp_path / "scores"
    summary = score_files(
        evidence_model,
        fam,
        mem,
        out,
        registry_records=rec,
        chunk_size=1_000,
        n_jobs=2,
        reasons="none",
        reference_date=REF,
    )
    whole = evidence_model.score(
        reg.families, reg.members, registry_records=reg.registry_records, reference_date=REF, reasons="none"
    )
    chunked = pd.read_parquet(out / "scores.parquet")
    pd.testing.assert_frame_equal(chunked, whole)  # linked once for the batch: as if scored in one piece
    assert summary.evidence["registry_records"]["records_read"] == len(reg.registry_records)
    links = pd.read_parquet(out / "links.parquet")
    assert len(links) == len(reg.registry_records)
    lists = make_lists(
        out / "scores.parquet", fam, 120, tmp_path / "lists", members=mem, model=evidence_model, public_lists=False
    )
    ranked = lists.ranked
    assert ranked["reasons"].notna().all()  # explained with the batch's links, found next to the scores
    listed_links = links[links["family_id"].isin(ranked["family_id"])]
    with_records = ranked["family_id"].isin(listed_links.dropna(subset=["family_id"])["family_id"])
    assert with_records.any() and ranked.loc[with_records, "evidence"].str.contains("cocok").all()
    assert ranked.loc[~with_records, "evidence"].isna().all()
    sheet = openpyxl.load_workbook(next((tmp_path / "lists" / "field").glob("*.xlsx"))).worksheets[0]
    assert "Data instansi lain" in [c.value for c in sheet[5]]
