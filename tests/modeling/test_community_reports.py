"""Community reports in the model (usul, sanggah, village meetings) and the report queue."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from conftest import REF, top_precision
from pkh_targeting import (
    TargetingModel,
    generate_registry,
    make_lists,
    rank_reports,
    read_feedback,
    score_files,
    validate_evidence,
)
from pkh_targeting.exceptions import DataQualityWarning
from pkh_targeting.explain import Explainer, load_templates, report_texts
from pkh_targeting.features import ReportFeatures
from pkh_targeting.verification import QUEUE_COLUMNS, report_outcomes
from pkh_targeting.verification._reports import CLAIMS


@pytest.fixture(scope="module")
def reports_model(evidence_train):
    """Reports are few per family: the model needs the larger registry to learn how reliable they are."""
    reg = evidence_train
    return TargetingModel(cv={"n_splits": 3}).fit(
        reg.families, reg.members, community_reports=reg.community_reports, reference_date=REF
    )


@pytest.fixture(scope="module")
def unseen():
    return generate_registry(8_000, seed=9, regions_seed=0, reference_date=REF)


def test_the_reports_make_the_lists_better_on_an_unseen_population(reports_model, plain_model, unseen):
    plain = plain_model
    kw = {"reference_date": REF, "reasons": "none"}
    with_reports = reports_model.score(
        unseen.families, unseen.members, community_reports=unseen.community_reports, **kw
    )
    without = plain.score(unseen.families, unseen.members, **kw)
    gain = {
        k: top_precision(with_reports, unseen.truth, k) - top_precision(without, unseen.truth, k)
        for k in ("inclusion", "exclusion")
    }
    assert gain["inclusion"] + gain["exclusion"] >= 0.02 and min(gain.values()) >= -0.01, gain


@pytest.mark.parametrize(
    "language, texts",
    [
        ("id", ("Sanggah warga lewat Cek Bansos, dengan foto: keluarga dinilai mampu",
                "Usul dari RT/RW: kehilangan pekerjaan")),
        ("en", ("Objection through Cek Bansos, with a photo: the family is said to be well off",
                "Proposal through the RT/RW head: lost a job or income")),
    ],
)  # fmt: skip
def test_reasons_say_who_reported_what(language, texts):
    features = ReportFeatures()
    reports = pd.DataFrame(
        {
            "report_id": ["1", "2", "3"],
            "family_id": ["A", "A", "B"],
            "kind": ["sanggah", "sanggah", "usul"],
            "channel": ["cek_bansos", "cek_bansos", "rt_rw"],
            "grounds": ["well_off", "well_off", "lost_income"],
            "evidence_photo": [True, False, None],
            "reporter_in_village": [True, True, False],
            "reported_on": pd.to_datetime(["2025-05-01", "2025-06-01", "2025-06-15"]),
        }
    )
    X = features.transform(reports, pd.DataFrame({"family_id": ["A", "B", "C"]}), REF)
    t = load_templates()["reports"]
    assert report_texts("sanggah", X.iloc[[0]], t, language)[0] == texts[0]
    assert report_texts("usul", X.iloc[[1]], t, language)[0] == texts[1]
    assert report_texts("sanggah", X.iloc[[2]], t, language)[0] == t["kinds"]["sanggah"][f"{language}_none"]
    assert (
        X.loc[0, "rep_sanggah_n"] == 2 and X.loc[0, "rep_sanggah_photo_n"] == 1 and X.loc[0, "rep_sanggah_days"] == 30
    )


def test_proposals_are_reasons_in_scored_batches(reports_model, unseen):
    scores = reports_model.score(
        unseen.families, unseen.members, community_reports=unseen.community_reports, reference_date=REF
    )
    assert scores["reasons"].dropna().str.contains("Usul dari", regex=False).any()


def test_the_reliability_of_each_kind_is_learned_and_explained(reports_model, unseen):
    """Proposals and meetings keeping a family raise its odds, objections and meetings dropping it
    lower them; the reports' share of the log-odds is theirs in the explanations, which still add up."""
    r = reports_model.reports_.reliability
    assert r["rep_usul_n"] > 0 and r["rep_musdes_keep_n"] > 0 and r["rep_sanggah_n"] < 0 and r["rep_musdes_drop_n"] < 0
    out = reports_model.score_records(
        unseen.families, unseen.members, community_reports=unseen.community_reports, reference_date=REF, reasons="none"
    )
    X = out.features[out.features["rep_sanggah_n"] > 0].head(50)
    contrib, base = Explainer(reports_model).contributions(X)
    np.testing.assert_allclose(base + contrib.sum(axis=1), logit(reports_model.predict_proba_raw(X)), atol=1e-5)
    assert (contrib["rep_sanggah_score"] < 0).mean() > 0.8


def test_scoring_without_the_reports_warns(reports_model, unseen):
    with pytest.warns(DataQualityWarning, match="community_reports"):
        out = reports_model.score_records(unseen.families.head(200), unseen.members, reference_date=REF)
    rep = [c for c in out.features.columns if c.startswith("rep_")]
    assert rep and out.features[rep].isna().all().all()


def test_bad_reports_are_quarantined_each_with_its_reason(unseen):
    rep = unseen.community_reports.head(100).copy()
    rep = rep.astype({"kind": object, "reported_on": object})
    rep.loc[0, "kind"] = "complaint"
    rep.loc[1, "channel"] = None
    rep.loc[2, "family_id"] = "KK-NOT-IN-BATCH"
    rep.loc[3, "reported_on"] = "kemarin"
    rep.loc[4, "report_id"] = rep.loc[5, "report_id"]
    res = validate_evidence(rep, "community_reports", families=unseen.families, reference_date=REF)
    q = res.quarantine.set_index("row")
    assert q.loc[0, "rule"] == "codes" and q.loc[1, "rule"] == "not_null" and q.loc[2, "rule"] == "unknown_family"
    assert q.loc[3, "rule"] == "dtype" and q.loc[5, "rule"] == "duplicate_key"
    assert len(res.valid) + q.index.nunique() == len(rep)


def test_the_report_queue_keeps_the_budget_and_orders_by_worth(reports_model, unseen):
    scores = reports_model.score(
        unseen.families, unseen.members, community_reports=unseen.community_reports, reference_date=REF, reasons="none"
    )
    reports = unseen.community_reports
    for budget, share in ((40, 0.1), (7, 0.0), (5000, 0.2)):
        queue = rank_reports(scores, reports, budget, audit_share=share, reference_date=REF)
        assert list(queue.columns) == QUEUE_COLUMNS and len(queue) <= budget and queue["family_id"].is_unique
        ranked = queue[~queue["audit"]]
        assert np.allclose(ranked["expected_value_rp"], ranked["p_report_right"] * ranked["benefit_at_stake_rp"])
    queue = rank_reports(scores, reports, 40, reference_date=REF)
    assert queue["audit"].sum() == 4 and (queue.loc[queue["audit"], "selection_probability"] < 1).all()
    s = scores.set_index("family_id").loc[queue["family_id"]]
    # an objection only about a beneficiary, a proposal only about a family left out; confirmations never
    kinds = queue["kinds"].str.split(";")
    assert all(
        ({"sanggah", "musdes_drop"} >= set(k)) if r else (set(k) == {"usul"}) for k, r in zip(kinds, s["receives_pkh"])
    )
    # with one unit, the ranked visits are the families worth most
    one = scores.assign(district_code="one")
    top = rank_reports(one, reports, 30, audit_share=0, reference_date=REF)
    all_open = rank_reports(one, reports, 100_000, audit_share=0, reference_date=REF)
    assert top["family_id"].tolist() == all_open["family_id"].head(30).tolist()
    assert top["expected_value_rp"].is_monotonic_decreasing


def test_the_lists_mark_the_visits_that_answer_a_report_and_feedback_closes_them(reports_model, tmp_path):
    reg = generate_registry(3_000, seed=17, regions_seed=0, reference_date=REF)
    files = reg.write(tmp_path / "batch")
    fam, mem = files / "families.parquet", files / "members.parquet"
    out = tmp_path / "scores"
    score_files(reports_model, fam, mem, out, community_reports=files / "community_reports.parquet", reference_date=REF)
    lists = make_lists(out / "scores.parquet", fam, 300, tmp_path / "lists", members=mem, public_lists=False)
    ranked = lists.ranked
    answered = ranked.dropna(subset=["report_ids"])
    assert len(answered)
    reports = reg.community_reports.set_index("report_id")
    for _, row in answered.iterrows():  # each marked report is about the family and claims its possible error
        for rid in row["report_ids"].split(";"):
            assert reports.loc[rid, "family_id"] == row["family_id"]
            assert CLAIMS[reports.loc[rid, "kind"]] == row["error_type"]
    # a visit that found what the report claimed confirms it; the opposite rejects it
    fid = answered["family_id"].iloc[:2].tolist()
    found = {"inclusion": "not eligible", "exclusion": "eligible"}
    first, second = answered.iloc[0], answered.iloc[1]
    results = pd.DataFrame({"family_id": fid, "result": [found[first["error_type"]], "moved"]})
    closed = report_outcomes(ranked, results).set_index("report_id")["result"]
    assert set(closed.loc[first["report_ids"].split(";")]) == {"confirmed"}
    assert set(closed.loc[second["report_ids"].split(";")]) == {"moved"}
    other = {"inclusion": "eligible", "exclusion": "not eligible"}[first["error_type"]]
    flipped = report_outcomes(ranked, results.assign(result=[other, "moved"])).set_index("report_id")["result"]
    assert set(flipped.loc[first["report_ids"].split(";")]) == {"rejected"}
    # feedback writes them beside verified_outcomes.csv
    returned = tmp_path / "returned.csv"
    pd.DataFrame({"family_id": fid, "result": [found[first["error_type"]], "moved"]}).to_csv(returned, index=False)
    read_feedback(tmp_path / "lists", returned)
    written = pd.read_csv(tmp_path / "lists" / "report_outcomes.csv", encoding="utf-8-sig")
    assert set(written.columns) == {"report_id", "result"} and "confirmed" in set(written["result"])
