"""A case's state is a pure function of its events: each rule on hand-made histories."""

import datetime as dt

import pandas as pd
import pytest

from pkh_targeting.cases import case_state, case_states

D = dt.date(2026, 2, 1)


def ev(kind, value=None, *, on=D, source="list.xlsx", round_id=None, family_id="F1", **data):
    return {"family_id": family_id, "kind": kind, "value": value, "occurred_on": on, "source": source,
            "round_id": round_id, "data": data}  # fmt: skip


def scored(receives=True, score=0.8):
    return ev("scored", "inclusion" if receives else "exclusion", receives_pkh=receives, error_score=score,
              error_type="inclusion" if receives else "exclusion")  # fmt: skip


def test_listed_then_visited_not_eligible_asks_for_removal():
    s = case_state([scored(), ev("listed", "inclusion", round_id=1, audit=False), ev("visited", "not eligible")])
    assert (s.state, s.result, s.decision, s.decision_basis, s.settled_on) == ("verified", "not eligible", "remove",
                                                                              "result", D)  # fmt: skip
    assert s.rounds == (1,) and s.audit is False


def test_eligible_non_beneficiary_asks_to_be_added_and_eligible_beneficiary_is_kept():
    assert case_state([scored(False), ev("visited", "eligible")]).decision == "add"
    assert case_state([scored(True), ev("visited", "eligible")]).decision == "keep"
    assert case_state([scored(False), ev("visited", "not eligible")]).decision == "keep"


def test_not_found_and_moved_settle_nothing():
    for result in ("not found", "moved"):
        s = case_state([scored(), ev("visited", result)])
        assert (s.state, s.result, s.decision, s.settled_on) == ("unreachable", None, None, None)
        assert s.last_visit_result == result


def test_disagreeing_results_are_a_conflict_whatever_their_order():
    for order in (("eligible", "not eligible"), ("not eligible", "eligible")):
        events = [scored(), ev("visited", order[0], source="a.xlsx"), ev("visited", order[1], source="b.csv")]
        s = case_state(events)
        assert (s.state, s.conflict, s.result, s.decision, s.settled_on) == ("conflict", True, None, None, None)
        assert {src for _, src, _ in s.conflicting} == {"a.xlsx", "b.csv"}


def test_a_decision_settles_a_conflict_and_later_results_reopen_it():
    events = [scored(), ev("visited", "eligible"), ev("visited", "not eligible"),
              ev("decided", "remove", on=dt.date(2026, 3, 1), grounds="dua kunjungan, foto rumah mewah")]  # fmt: skip
    s = case_state(events)
    assert (s.state, s.decision, s.decision_basis, s.settled_on, s.conflict) == ("decided", "remove", "decided",
                                                                                dt.date(2026, 3, 1), False)  # fmt: skip
    s = case_state(events + [ev("visited", "eligible", on=dt.date(2026, 9, 1))])
    assert (s.state, s.decision, s.settled_on) == ("verified", "keep", dt.date(2026, 9, 1))


def test_defer_settles_nothing():
    s = case_state([scored(), ev("visited", "eligible"), ev("visited", "not eligible"), ev("discussed", "defer")])
    assert s.conflict and s.settled_on is None
    s = case_state([scored(), ev("visited", "not eligible"), ev("discussed", "defer", grounds="kunjungan ulang")])
    assert (s.state, s.decision, s.settled_on, s.result) == ("discussed", "defer", None, "not eligible")
    s = case_state([scored(), ev("discussed", "defer"), ev("visited", "not eligible")])
    assert (s.decision, s.settled_on) == ("remove", D)


def test_meeting_decision_is_discussed():
    s = case_state([scored(), ev("discussed", "remove", grounds="musyawarah desa")])
    assert (s.state, s.decision, s.settled_on, s.grounds) == ("discussed", "remove", D, "musyawarah desa")


def test_review_states_of_form_submissions():
    base = [scored()]
    rejected = ev("visited", "not eligible", instance_id="uuid:1", review_state="rejected")
    assert case_state(base + [rejected]).state == "scored"  # no outcome
    held = ev("visited", "not eligible", instance_id="uuid:1", review_state="has_issues")
    s = case_state(base + [held])
    assert (s.state, s.held, s.result) == ("held", True, None)
    approved = ev("visited", "not eligible", instance_id="uuid:1", review_state="approved")
    s = case_state(base + [held, approved])
    assert (s.state, s.held, s.result, s.decision) == ("verified", False, "not eligible", "remove")
    # a submission rejected after it was approved is no outcome any more
    assert case_state(base + [approved, ev("visited", "not eligible", instance_id="uuid:1",
                                            review_state="rejected")]).result is None  # fmt: skip


def test_proposed_then_applied_or_not():
    events = [scored(), ev("visited", "not eligible"), ev("proposed", "remove", source="usulan_1.csv")]
    s = case_state(events)
    assert (s.state, s.proposed_in) == ("proposed", "usulan_1.csv")
    assert case_state(events + [ev("not_applied")]).state == "not_applied"
    assert case_state(events + [ev("not_applied"), ev("applied")]).state == "applied"


def test_the_decision_rests_on_the_status_at_the_visit():
    # removed by the registry afterwards: the case stays a removal that was applied, not a "keep"
    events = [scored(True), ev("visited", "not eligible"), ev("proposed", "remove"), ev("applied"), scored(False)]
    s = case_state(events)
    assert (s.decision, s.state, s.receives_pkh) == ("remove", "applied", False)


def test_case_states_of_many_and_an_empty_history():
    frame = pd.DataFrame([{**e, "id": i} for i, e in enumerate([scored(), ev("visited", "not eligible"),
                                                                 {**scored(False), "family_id": "F2"}])])  # fmt: skip
    states = case_states(frame)
    assert states["family_id"].tolist() == ["F1", "F2"] and states["state"].tolist() == ["verified", "scored"]
    with pytest.raises(ValueError, match="at least one event"):
        case_state([])
