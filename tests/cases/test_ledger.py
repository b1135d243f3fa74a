"""The ledger on SQLite and on PostgreSQL: rounds, results, conflicts, decisions, refresh."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from _cases import REF, registry, returned_list, scores_of
from pkh_targeting.cases import (
    case_states,
    conflicts,
    decide,
    list_round,
    open_ledger,
    record_decisions,
    record_results,
    refresh,
    settled_families,
    status,
    verified_outcomes,
    with_verified_outcomes,
    write_proposals,
)
from pkh_targeting.exceptions import SchemaError
from pkh_targeting.verification import HEADERS


@pytest.fixture(scope="module")
def reg():
    return registry()


@pytest.fixture
def ledger(ledger_url):
    with open_ledger(ledger_url) as led:
        yield led


def first_round(ledger, reg, tmp_path, budget=80, **kw):
    return list_round(ledger, scores_of(reg), reg.families, budget, tmp_path / "lists", listed_on=REF,
                      public_lists=False, **kw)  # fmt: skip


def test_events_cannot_be_changed_or_deleted(ledger, reg, tmp_path):
    first_round(ledger, reg, tmp_path, budget=10)
    for sql in ("UPDATE events SET value = 'x'", "DELETE FROM events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with ledger.engine.begin() as c:
                c.execute(sa.text(sql))
    assert ledger.count() == 20


def test_a_round_records_cases_with_their_names_and_listing_it_again_changes_nothing(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    assert len(r.lists.ranked) == 80 and len(r.left_out) == 0
    cases = ledger.cases()
    assert set(cases["family_id"]) == set(r.lists.ranked["family_id"])
    assert cases["head_name"].notna().all() and cases["village_name"].notna().all()
    events = ledger.events()
    assert events["kind"].value_counts().to_dict() == {"scored": 80, "listed": 80}
    listed = events[events["kind"] == "listed"]
    audit = listed["data"].map(lambda d: d["audit"])
    assert audit.any() and (listed["data"][audit].map(lambda d: d["selection_probability"]) < 1).all()
    again = first_round(ledger, reg, tmp_path)
    assert again.id == r.id and ledger.count() == 160 and len(ledger.rounds()) == 1


def test_results_recorded_once_conflicts_listed_rejected_submissions_no_outcome(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    ranked = r.lists.ranked
    fids = ranked["family_id"].tolist()
    path = returned_list(ranked, reg.truth, tmp_path / "kembali.csv", override={fids[0]: "pindah"})
    rec = record_results(ledger, path)
    assert rec.new == 80 and rec.already_recorded == 0 and not len(rec.conflicts)
    before = (ledger.count(), case_states(ledger.events()))
    rec = record_results(ledger, path)
    assert rec.new == 0 and rec.already_recorded == 80
    assert ledger.count() == before[0]
    pd.testing.assert_frame_equal(case_states(ledger.events()), before[1])
    # the phone form says the opposite for two families; one submission was rejected, one has issues
    truth = reg.truth.set_index("family_id")["eligible"]
    opposite = ["not_eligible" if truth[f] else "eligible" for f in fids[1:5]]
    form = pd.DataFrame({
        "SubmissionDate": "2026-01-20T09:00:00.000Z", "visit-family_id": fids[1:5], "visit-result": opposite,
        "visit-visit_date": "2026-01-19", "berita_acara-officer_name": "Siti Aminah",
        "visit-dwelling_photo": [f"foto{i}.jpg" for i in range(4)], "meta-instanceID": [f"uuid:{i}" for i in range(4)],
        "ReviewState": ["approved", None, "rejected", "hasIssues"],
    })  # fmt: skip
    form.to_csv(tmp_path / "submissions.csv", index=False)
    rec = record_results(ledger, tmp_path / "submissions.csv")
    assert rec.new == 4
    assert sorted(rec.conflicts["family_id"]) == sorted(fids[1:3])
    states = case_states(ledger.events()).set_index("family_id")
    assert not states.loc[fids[3], "conflict"] and states.loc[fids[3], "state"] == "verified"  # rejected: no outcome
    assert states.loc[fids[4], "held"] and not states.loc[fids[4], "conflict"]
    assert states.loc[fids[0], "state"] == "unreachable"
    assert sorted(conflicts(ledger)["family_id"]) == sorted(fids[1:3])
    # a decision settles a conflict
    decide(ledger, fids[1], "keluarkan", by="Kasi Sosial", grounds="kunjungan ulang: rumah permanen, mobil")
    assert sorted(conflicts(ledger)["family_id"]) == [fids[2]]


def test_results_from_the_excel_lists_rank_wrote(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    books = sorted((tmp_path / "lists" / "field").glob("*.xlsx"))
    result_col = None
    for book in books:
        wb = load_workbook(book)
        for ws in wb.worksheets:
            header = next(row for row in ws.iter_rows(values_only=True) if HEADERS["id"]["family_id"] in row)
            result_col = header.index(HEADERS["id"]["result"]) + 1
            id_col = header.index(HEADERS["id"]["family_id"]) + 1
            for row in ws.iter_rows(min_row=1):
                if row[id_col - 1].value and str(row[id_col - 1].value).startswith("F"):
                    row[result_col - 1].value = "tidak layak"
        wb.save(book)
    rec = record_results(ledger, tmp_path / "lists" / "field")  # the folder: .xlsx and .csv lists
    visited = ledger.events().query("kind == 'visited'")
    assert rec.new == len(visited) == 80  # the CSV copies were returned blank
    assert visited["source_row"].str.contains(":").all()  # sheet and row
    assert set(visited["value"]) == {"not eligible"}
    assert record_results(ledger, tmp_path / "lists" / "field").new == 0
    assert result_col is not None and len(r.lists.ranked) == 80


def test_results_of_families_without_a_case_are_returned_not_recorded(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path, budget=10)
    other = reg.families[~reg.families["family_id"].isin(r.lists.ranked["family_id"])].head(3)
    path = returned_list(other.assign(list="inclusion"), reg.truth, tmp_path / "x.csv")
    rec = record_results(ledger, path)
    assert rec.new == 0 and sorted(rec.unknown_families["family_id"]) == sorted(other["family_id"])
    blank = pd.DataFrame({HEADERS["id"]["family_id"]: other["family_id"], HEADERS["id"]["result"]: ""})
    blank.to_csv(tmp_path / "blank.csv", index=False)
    rec = record_results(ledger, tmp_path / "blank.csv")  # nothing filled in yet: nothing to record
    assert (rec.new, rec.already_recorded, len(rec.unknown_families), len(rec.conflicts)) == (0, 0, 0, 0)


def test_settled_families_are_left_out_unless_new_evidence(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    record_results(ledger, returned_list(r.lists.ranked, reg.truth, tmp_path / "r.csv"))
    s = scores_of(reg)
    again = list_round(ledger, s, reg.families, 80, tmp_path / "lists2", listed_on="2026-04-01", public_lists=False)
    assert len(again.left_out) == 80 and not again.lists.ranked["family_id"].isin(r.lists.ranked["family_id"]).any()
    assert set(again.left_out["basis"]) == {"visit"}
    # past the cool-off they come back; new evidence brings them back sooner
    late = settled_families(case_states(ledger.events()), s, "2027-02-01", 12)
    assert len(late) == 0
    st = case_states(ledger.events()).set_index("family_id")
    kept, removed = st.index[st["decision"] == "keep"].tolist(), st.index[st["decision"] == "remove"].tolist()
    fids = [kept[0], *[f for f in r.lists.ranked["family_id"] if f not in (kept[0], removed[0])]]
    # a kept family's status changed: news; a removed beneficiary no longer receiving: the decision applied
    flipped = s.assign(receives_pkh=s["receives_pkh"] ^ s["family_id"].isin([fids[0], removed[0]]))
    reports = pd.DataFrame({"family_id": [fids[1]], "reported_on": pd.Timestamp("2026-03-01")})
    links = pd.DataFrame({"family_id": [fids[2], fids[3]], "member_no": [1, None],
                          "as_of": pd.Timestamp("2026-03-15")})  # fmt: skip
    news = settled_families(case_states(ledger.events()), flipped, "2026-04-01", 12, links=links, reports=reports)
    news = news.set_index("family_id")["new_evidence"]
    assert news[fids[0]] == "status" and news[fids[1]] == "community report" and news[fids[2]] == "registry record"
    assert news.drop(fids[:3]).isna().all()  # an unlinked record is no evidence about the family
    assert pd.isna(news[removed[0]])


def test_decisions_from_a_sheet_and_their_errors(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path, budget=10)
    fids = r.lists.ranked["family_id"].tolist()
    sheet = pd.DataFrame({"ID keluarga": fids[:3], "Keputusan": ["tetap", "Keluarkan", "usulkan"],
                          "Dasar keputusan": "musyawarah desa 12 Februari", "Musyawarah desa": "ya",
                          "Tanggal keputusan": "12/02/2026"})  # fmt: skip
    sheet.to_excel(tmp_path / "keputusan.xlsx", index=False)
    assert record_decisions(ledger, tmp_path / "keputusan.xlsx") == 3
    assert record_decisions(ledger, tmp_path / "keputusan.xlsx") == 0
    st = case_states(ledger.events()).set_index("family_id")
    assert st.loc[fids[:3], "decision"].tolist() == ["keep", "remove", "add"]
    assert (st.loc[fids[:3], "state"] == "discussed").all()
    assert (st.loc[fids[:3], "settled_on"] == dt.date(2026, 2, 12)).all()
    semi = pd.DataFrame({"ID keluarga": fids[3:5], "Keputusan": ["perbaiki", "tetap"], "Dasar keputusan": "alamat"})
    semi.to_csv(tmp_path / "keputusan.csv", sep=";", index=False, encoding="cp1252")
    assert record_decisions(ledger, tmp_path / "keputusan.csv") == 2
    assert decide(ledger, fids[5], "tetap", by="Kasi Sosial", grounds="kunjungan") == 1
    assert decide(ledger, fids[5], "tetap", by="Kasi Sosial", grounds="kunjungan") == 0  # the same, the same day
    st = case_states(ledger.events()).set_index("family_id")
    assert st.loc[fids[3:6], "decision"].tolist() == ["update", "keep", "keep"]
    with pytest.raises(SchemaError, match=r"column 'decision'.*row 3: 'hapus'"):
        record_decisions(ledger, pd.DataFrame({"family_id": fids[:2], "decision": ["tetap", "hapus"]}))
    with pytest.raises(SchemaError, match="without a case"):
        record_decisions(ledger, pd.DataFrame({"family_id": ["NOPE"], "decision": ["tetap"]}))


def test_refresh_applied_not_applied_and_flags_again(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    ranked = r.lists.ranked
    record_results(ledger, returned_list(ranked, reg.truth, tmp_path / "r.csv"))
    st = case_states(ledger.events()).set_index("family_id")
    removals = st.index[st["decision"] == "remove"].tolist()
    assert removals
    write_proposals(ledger, tmp_path / "usulan", on=REF)
    s = scores_of(reg)
    applied = removals[: len(removals) // 2]
    nxt = s.assign(receives_pkh=s["receives_pkh"] & ~s["family_id"].isin(applied))
    res = refresh(ledger, nxt)
    changes = res.cases.set_index("family_id")["change"]
    assert set(changes[changes == "applied"].index) == set(applied)
    additions = st.index[st["decision"] == "add"].tolist()
    assert set(changes[changes == "not_applied"].index) == set(removals + additions) - set(applied)
    assert res.summary["applied"] == len(applied) and res.summary["new_flag"] > 0
    kept = st.index[(st["decision"] == "keep") & st.index.isin(s.loc[s["error_score"] >= 0.5, "family_id"])]
    assert set(kept) <= set(changes[changes == "flagged_again_after_keep"].index)
    n = ledger.count()
    assert refresh(ledger, nxt).summary == res.summary and ledger.count() == n  # the same batch again: nothing new
    later = nxt.assign(model_version="m2")  # another batch still without the rest applied
    res2 = refresh(ledger, later)
    assert res2.summary["not_applied_two_rounds_or_more"] == len(set(removals + additions) - set(applied))
    table = status(ledger)
    assert table.loc[table["village_code"] == "total", "total"].item() == 80
    assert {"applied", "not_applied"} <= set(table.columns)


def test_outcomes_for_training_from_the_ledger(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path)
    record_results(ledger, returned_list(r.lists.ranked, reg.truth, tmp_path / "r.csv"))
    out = verified_outcomes(ledger)
    truth = reg.truth.set_index("family_id")["eligible"]
    assert len(out) == 80 and (out["verified_eligible"].to_numpy() == truth[out["family_id"]].to_numpy()).all()
    assert out["audit"].any() and (out.loc[out["audit"].astype(bool), "selection_probability"] < 1).all()
    assert not out["explore"].astype(bool).any()  # this round drew no exploration sample
    fam = with_verified_outcomes(reg.families, out)
    mine = fam.set_index("family_id").loc[out["family_id"], "verified_eligible"]
    assert (mine.to_numpy() == out["verified_eligible"].to_numpy()).all()
    rest = ~fam["family_id"].isin(out["family_id"])
    pd.testing.assert_series_equal(
        fam.loc[rest, "verified_eligible"].reset_index(drop=True),
        reg.families.loc[rest, "verified_eligible"].astype("boolean").reset_index(drop=True),
        check_names=False,
    )
    assert np.isfinite(out["selection_probability"].astype(float)).all()


def test_exploration_visits_are_recorded_with_their_probabilities(ledger, reg, tmp_path):
    r = first_round(ledger, reg, tmp_path, explore_share=0.2)
    explored = r.lists.ranked[r.lists.ranked["explore"]]
    assert len(explored) == 16
    record_results(ledger, returned_list(r.lists.ranked, reg.truth, tmp_path / "r.csv"))
    out = verified_outcomes(ledger).set_index("family_id")
    mine = out.loc[explored["family_id"]]
    assert mine["explore"].astype(bool).all() and not mine["audit"].astype(bool).any()
    assert (mine["selection_probability"].to_numpy() == explored["selection_probability"].to_numpy()).all()
