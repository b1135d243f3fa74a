"""Two rounds on the synthetic registry with a real model: what round 1 settled stays off round 2's
lists unless its evidence changed (a status, a linked registry record, a community report)."""

import numpy as np
import pandas as pd
import pytest

from _cases import REF, returned_list
from pkh_targeting import TargetingModel, generate_registry, score_files
from pkh_targeting.cases import case_states, list_round, open_ledger, record_results, write_proposals


@pytest.fixture(scope="module")
def rounds(tmp_path_factory):
    """The registry and its next quarter, written, and a model trained on the first."""
    base = tmp_path_factory.mktemp("rounds")
    reg = generate_registry(4000, 21, reference_date=REF)
    model = TargetingModel(cv={"n_splits": 3}).fit(
        reg.families, reg.members, reference_date=REF,
        registry_records=reg.registry_records, community_reports=reg.community_reports,
    )  # fmt: skip
    return base, reg, model


def score(model, reg, folder):
    path = reg.write(folder)
    files = {t: path / f"{t}.parquet" for t in ("registry_records", "community_reports")}
    score_files(model, path / "families.parquet", path / "members.parquet", folder / "scores",
                reference_date=reg.reference_date, **files)  # fmt: skip
    return folder / "scores" / "scores.parquet"


def test_settled_families_are_not_listed_again_unless_their_evidence_changed(rounds, ledger_url, tmp_path):
    base, reg, model = rounds
    with open_ledger(ledger_url) as ledger:
        s1 = score(model, reg, tmp_path / "q1")
        r1 = list_round(ledger, s1, reg.families, 150, tmp_path / "l1", listed_on=REF, by="village_code",
                        public_lists=False)  # fmt: skip
        ranked = r1.lists.ranked
        moved = ranked["family_id"].map(reg.truth.set_index("family_id")["moved"]) if "moved" in reg.truth else None
        odd = dict.fromkeys(ranked["family_id"][moved] if moved is not None else [], "pindah")
        record_results(ledger, returned_list(ranked, reg.truth, tmp_path / "hasil.csv", override=odd))
        write_proposals(ledger, tmp_path / "usulan", on=REF)
        states = case_states(ledger.events())
        settled = set(states.loc[states["settled_on"].notna(), "family_id"])
        assert len(settled) > 100
        decisions = states.loc[states["decision"].isin(["remove", "add"]), ["family_id", "decision"]]
        nxt = reg.next_round(decisions)
        s2 = score(model, nxt, tmp_path / "q2")
        r2 = list_round(ledger, s2, nxt.families, 150, tmp_path / "l2", listed_on=nxt.reference_date,
                        by="village_code", public_lists=False)  # fmt: skip
        listed_again = set(r2.lists.ranked["family_id"]) & settled
        assert listed_again <= set(r2.relisted["family_id"])
        assert set(r2.left_out["family_id"]).isdisjoint(r2.lists.ranked["family_id"])
        assert set(r2.left_out["family_id"]) | set(r2.relisted["family_id"]) == settled
        # each relisted family's news is really there: checked against the batch's own files
        news = r2.relisted.set_index("family_id")["new_evidence"]
        links = pd.read_parquet(tmp_path / "q2" / "scores" / "links.parquet")
        reports = pd.read_parquet(tmp_path / "q2" / "scores" / "community_reports.parquet")
        was = ranked.set_index("family_id")["receives_pkh"]
        now = pd.read_parquet(s2).set_index("family_id")["receives_pkh"]
        on = states.set_index("family_id")["settled_on"].map(pd.Timestamp)
        for fid, what in news.items():
            if what == "status":
                assert now[fid] != was[fid]
            elif what == "registry record":
                assert (links[(links["family_id"] == fid) & links["member_no"].notna()]["as_of"] > on[fid]).any()
            else:
                assert (reports.loc[reports["family_id"] == fid, "reported_on"] > on[fid]).any()
        # the round-2 audit sample is drawn from the families that remain, its probabilities exact for them
        audit = r2.lists.ranked[r2.lists.ranked["audit"]]
        assert len(audit) and (audit["selection_probability"] < 1).all()
        assert np.isclose(r2.lists.audit["audit_visits"].sum(), len(audit))
        assert len(ledger.rounds()) == 2
