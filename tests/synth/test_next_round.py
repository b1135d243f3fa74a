"""The next quarter of a synthetic registry: the population moves on, the registry lags behind."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pkh_targeting import generate_registry, validate_records
from pkh_targeting.synth import Registry

REF = dt.date(2025, 7, 1)


@pytest.fixture(scope="module")
def reg():
    return generate_registry(3000, 4, reference_date=REF)


def test_a_quarter_later(reg):
    nxt = reg.next_round()
    assert (nxt.round, nxt.reference_date) == (1, dt.date(2025, 10, 1))
    assert list(nxt.families["family_id"]) == list(reg.families["family_id"])
    true, before = nxt.member_truth, reg.member_truth
    babies = true.merge(before[["family_id", "member_no"]], how="left", indicator=True).query("_merge == 'left_only'")
    assert len(babies) > 20 and (babies["age"] == 0).all()
    died = true["died"].sum() - before["died"].sum()
    assert died > 5
    # the registry enters about half the births, and a third of the deaths of members other than the head
    entered = nxt.members.merge(babies[["family_id", "member_no"]])
    assert 0.3 < len(entered) / len(babies) < 0.7
    assert len(reg.members) + len(entered) - died <= len(nxt.members) < len(reg.members) + len(entered)
    assert (nxt.families["n_members"].to_numpy() == nxt.families["family_id"].map(
        nxt.members.groupby("family_id").size()).to_numpy()).all()  # fmt: skip
    merged = nxt.members.merge(reg.members, on=["family_id", "member_no"], suffixes=("", "_before"))
    assert merged["age"].ge(merged["age_before"]).all() and merged["age"].gt(merged["age_before"]).mean() > 0.15
    assert not (nxt.truth["consumption_per_capita"] == reg.truth["consumption_per_capita"]).all()
    assert nxt.truth["eligible"].ne(reg.truth["eligible"]).sum() > 10
    new_deaths = nxt.registry_records.iloc[len(reg.registry_records) :]
    assert len(new_deaths) and (new_deaths["source"] == "death").all()
    assert (new_deaths["as_of"] > pd.Timestamp(REF)).all()
    assert (nxt.community_reports.iloc[len(reg.community_reports) :]["reported_on"] > pd.Timestamp(REF)).all()
    # four quarters on, the records still pass the contract without a single quarantined row
    later = nxt.next_round().next_round().next_round()
    res = validate_records(later.families, later.members, reference_date=later.reference_date)
    assert len(res.quarantine) == 0 and later.round == 4


def test_the_registry_applies_a_share_of_the_decisions_and_nothing_else_depends_on_them(reg):
    f = reg.families
    wrong = f.loc[reg.truth["inclusion_error"].to_numpy(), "family_id"].head(200)
    left_out = f.loc[reg.truth["exclusion_error"].to_numpy(), "family_id"].head(100)
    decisions = pd.concat([pd.DataFrame({"family_id": wrong, "decision": "remove"}),
                           pd.DataFrame({"family_id": left_out, "decision": "add"})])  # fmt: skip
    nxt, plain = reg.next_round(decisions, apply_share=0.7), reg.next_round()
    now = nxt.families.set_index("family_id")["receives_pkh"]
    assert 0.6 < (~now[wrong]).mean() < 0.8 and 0.6 < now[left_out].mean() < 0.8
    others = ~f["family_id"].isin(decisions["family_id"]).to_numpy()
    assert (nxt.families["receives_pkh"].to_numpy()[others] == plain.families["receives_pkh"].to_numpy()[others]).all()
    pd.testing.assert_series_equal(nxt.truth["eligible"], plain.truth["eligible"])
    pd.testing.assert_frame_equal(nxt.members, plain.members)


def test_written_and_read_back(reg, tmp_path):
    nxt = reg.next_round()
    back = Registry.read(nxt.write(tmp_path))
    assert (back.round, back.reference_date, back.seed) == (1, nxt.reference_date, nxt.seed)
    pd.testing.assert_frame_equal(back.members, nxt.members)
    assert np.array_equal(back.next_round().truth["eligible"], nxt.next_round().truth["eligible"])
