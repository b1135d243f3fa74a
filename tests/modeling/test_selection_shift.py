"""Verified families are selected on their eligibility: the shift of their labels, by status."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from conftest import REF
from pkh_targeting import generate_registry
from pkh_targeting.modeling import TargetingModel
from pkh_targeting.modeling._prior import selection_shift


def labels(n=40_000, shift=(1.0, -0.5), seed=0):
    """A random sample (a fifth) and selected rows whose labels run ``shift`` (others, beneficiaries)
    log-odds above the sample's at the same prior and status."""
    rng = np.random.default_rng(seed)
    prior, beneficiary, sample = rng.normal(0, 1.5, n), rng.random(n) < 0.3, rng.random(n) < 0.2
    logit = prior + np.where(beneficiary, 0.4, -0.2) + np.where(sample, 0, np.where(beneficiary, shift[1], shift[0]))
    return rng.random(n) < expit(logit), prior, beneficiary, sample


def test_the_shift_of_each_status_is_recovered():
    y, prior, beneficiary, sample = labels()
    offset, shift = selection_shift(y, prior, np.ones(len(y)), beneficiary, sample)
    assert shift == pytest.approx({"others": 1.0, "beneficiaries": -0.5}, abs=0.1)
    assert not offset[sample].any()
    expected = np.where(beneficiary, shift["beneficiaries"], shift["others"])
    np.testing.assert_array_equal(offset[~sample], expected[~sample])
    # without selection on the label, no shift
    y, prior, beneficiary, sample = labels(shift=(0.0, 0.0))
    _, none = selection_shift(y, prior, np.ones(len(y)), beneficiary, sample)
    assert none == pytest.approx({"others": 0.0, "beneficiaries": 0.0}, abs=0.1)


def test_a_status_without_sampled_rows_gets_no_shift():
    y, prior, beneficiary, sample = labels()
    sample &= ~beneficiary
    offset, shift = selection_shift(y, prior, np.ones(len(y)), beneficiary, sample)
    assert set(shift) == {"others"} and not offset[beneficiary].any()
    offset, shift = selection_shift(y, prior, np.ones(len(y)), beneficiary, np.ones(len(y), bool))
    assert shift == {} and not offset.any()


def test_probabilities_of_each_status_hold_on_a_later_round():
    """In the synthetic registry, complaints come three times as often from eligible families and
    objections name ineligible beneficiaries: verified others are more often eligible, verified
    beneficiaries less, than surveyed families like them. With the shift, the mean probability of
    each status on a later round is its share eligible among surveyed families (within 0.03; the
    trees fitted to the verified labels as they are overstated the others by 0.08)."""
    train = generate_registry(12_000, seed=31, regions_seed=0, reference_date=REF)
    later = generate_registry(30_000, seed=32, regions_seed=0, reference_date=REF)
    model = TargetingModel(cv={"n_splits": 3}).fit(train.families, train.members, reference_date=REF)
    shift = model.training_summary_["selection_shift"]
    assert shift["others"] > 0.3 and shift["beneficiaries"] < 0
    out = model.score_records(later.families, later.members, reference_date=REF, reasons="none")
    fam = later.families.set_index("family_id").loc[out.scores["family_id"]]
    line = np.where(fam["urban"], *(model.config.welfare.poverty_line[k] for k in ("urban", "rural")))
    real = fam["consumption_per_capita"].to_numpy() / line
    surveyed = np.isfinite(real)
    eligible = (real <= model.threshold_) & (out.scores["n_components"].to_numpy() > 0)
    frame = pd.DataFrame(
        {"beneficiary": fam["receives_pkh"].to_numpy(bool), "eligible": eligible, "p": out.scores["p_eligible"]}
    )[surveyed]
    by_status = frame.groupby("beneficiary").mean()
    assert (by_status["p"] - by_status["eligible"]).abs().max() < 0.03, by_status
