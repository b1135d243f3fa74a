import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

from conftest import REF
from pkh_targeting import generate_registry, validate_records
from pkh_targeting.features import PMTFeatureBuilder
from pkh_targeting.records.evidence import validate_evidence
from pkh_targeting.rules import apply_rules
from pkh_targeting.synth import DEFECTS


def weighted_gini(x, w):
    o = np.argsort(x)
    x, w = x[o], w[o]
    cw, cx = np.cumsum(w), np.cumsum(x * w)
    return 1 - 2 * np.sum(w * (cx - x * w / 2)) / (cw[-1] * cx[-1])


@pytest.fixture(scope="module")
def big():
    return generate_registry(100_000, seed=7, reference_date=REF)


def test_calibration_moments(big):
    """The moments of shared DOMAIN.md (BPS March 2025) and the targeting literature, with tolerances."""
    f, t = big.families, big.truth
    size, poor, urban = f.n_members.to_numpy(), t.poor.to_numpy(), f.urban.to_numpy()
    c = t.consumption_per_capita.to_numpy()
    assert np.average(poor, weights=size) == pytest.approx(0.0847, abs=0.005)
    assert np.average(poor[urban], weights=size[urban]) == pytest.approx(0.0673, abs=0.005)
    assert np.average(poor[~urban], weights=size[~urban]) == pytest.approx(0.1103, abs=0.005)
    assert weighted_gini(c, size) == pytest.approx(0.375, abs=0.03)
    assert weighted_gini(c[urban], size[urban]) == pytest.approx(0.395, abs=0.02)
    assert weighted_gini(c[~urban], size[~urban]) == pytest.approx(0.299, abs=0.02)
    assert size.mean() == pytest.approx(3.8, abs=0.2)
    assert size[poor].mean() == pytest.approx(4.7, abs=0.3)
    receives, eligible = t.receives_pkh, t.eligible
    undercoverage = (eligible & ~receives).sum() / eligible.sum()
    leakage = (receives & ~eligible).sum() / receives.sum()
    assert 0.40 <= undercoverage <= 0.55
    assert 0.20 <= leakage <= 0.40
    assert set(t.error_mechanism.dropna()) == {
        "stale_ranking",
        "never_registered",
        "local_discretion",
        "capture",
        "graduation_not_processed",
        "proxy_means_error",
        "quota",
    }
    assert (t.desil.value_counts(normalize=True) - 0.1).abs().max() < 0.002


def test_proxy_means_ols_explains_half_the_variance_out_of_sample(big):
    X = PMTFeatureBuilder().fit_transform((big.families, big.members)).drop(columns="province")
    y = np.log(big.truth.consumption_per_capita.to_numpy())
    pred = cross_val_predict(LinearRegression(), X, y, groups=big.families.regency_code, cv=GroupKFold(5))
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert 0.40 <= r2 <= 0.65


def test_outcome_samples_are_as_an_office_has_them(big):
    f, t = big.families, big.truth
    verified = f.verified_eligible.notna()
    assert verified[f.receives_pkh].mean() > 3 * verified[~f.receives_pkh].mean()  # not random
    agree = (f.verified_eligible[verified] == t.eligible[verified]).mean()
    assert 0.92 <= agree < 1.0  # a small field-error rate
    surveyed = f.consumption_per_capita.notna()
    assert surveyed.mean() == pytest.approx(0.04, abs=0.005)
    assert f.consumption_per_capita[surveyed].median() == pytest.approx(
        t.consumption_per_capita.median(), rel=0.05
    )  # a random sample
    assert (f.consumption_per_capita[surveyed] == t.consumption_per_capita[surveyed]).all()


def test_members_are_coherent(big):
    m = big.members
    preg = m[m.pregnant]
    assert (preg.sex == 2).all() and preg.age.between(15, 49).all()
    pupils = m[m.school_participation == 2]
    assert (pupils.groupby("school_level").age.median().diff().dropna() > 0).all()
    assert m[m.age < 5].school_participation.eq(1).all()
    assert m.relationship.eq(1).groupby(m.family_id).sum().eq(1).all()
    old = m.age >= 75
    assert m.severe_disability[old].mean() > 5 * m.severe_disability[m.age < 40].mean()
    workers = m[m.worked_last_week]
    informal = workers.employment_status.isin([1, 5, 6]).mean()
    assert 0.45 <= informal <= 0.70


def test_deterministic_for_a_seed():
    a = generate_registry(2_000, seed=3, reference_date=REF)
    b = generate_registry(2_000, seed=3, reference_date=REF)
    c = generate_registry(2_000, seed=4, reference_date=REF)
    for name in ("families", "members", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not a.families.floor_area_m2.equals(c.families.floor_area_m2)


def test_injected_defects_are_found_by_validation():
    reg = generate_registry(5_000, seed=5, reference_date=REF, defect_rate=0.05)
    res = validate_records(reg.families, reg.members, reference_date=REF)
    t = reg.truth
    assert set(t.defect.dropna()) == set(DEFECTS)
    q = res.quarantine
    for row in t[t.defect_rule.notna()].itertuples():
        assert ((q.family_id == row.family_id) & (q.rule == row.defect_rule)).any(), row
    coerced = t[t.defect == "region_code_as_number"].family_id
    assert coerced.isin(res.families.family_id).mean() > 0.9  # restored, not quarantined


def test_write(tmp_path):
    reg = generate_registry(500, seed=1, reference_date=REF)
    out = reg.write(tmp_path)
    assert {p.name for p in out.iterdir()} == {
        "families.parquet",
        "members.parquet",
        "truth.parquet",
        "registry_records.parquet",
        "record_truth.parquet",
        "community_reports.parquet",
        "report_truth.parquet",
        "member_truth.parquet",
        "registry.json",
    }
    back = pd.read_parquet(out / "families.parquet")
    assert validate_records(back, pd.read_parquet(out / "members.parquet"), reference_date=REF).quarantine.empty
    records = pd.read_parquet(out / "registry_records.parquet")
    assert validate_evidence(records, "registry_records", reference_date=REF).quarantine.empty
    reports = pd.read_parquet(out / "community_reports.parquet")
    checked = validate_evidence(reports, "community_reports", families=back, reference_date=REF)
    assert checked.quarantine.empty and len(checked.valid) == len(reg.report_truth) > 0


def test_registry_records_carry_the_imperfections_of_real_extracts():
    reg = generate_registry(3_000, seed=5, reference_date=REF)
    rec, truth = reg.registry_records, reg.record_truth
    assert truth[["source", "record_id"]].equals(rec[["source", "record_id"]])
    kinds = truth["kind"].value_counts(normalize=True)
    assert {"exact_nik", "nik_missing", "nik_one_digit", "nik_two_digits", "namesake", "stranger"} <= set(kinds.index)
    assert 0.02 < kinds["namesake"] < 0.2 and kinds["stranger"] > 0.2
    linked = truth["family_id"].notna()
    assert (truth.loc[~linked, "kind"].isin(["namesake", "stranger"])).all()
    # a namesake shares a member's name, sex and regency but not the NIK
    names = reg.members.assign(n=reg.members["name"].str.upper())
    namesakes = rec[truth["kind"].eq("namesake").to_numpy()]
    assert namesakes["full_name"].str.upper().isin(names["n"]).all()
    assert not namesakes["nik"].dropna().isin(reg.members["nik"]).any()
    # deaths since the registry: members the registry lists, a component lost for some families
    assert reg.truth["n_died"].sum() > 0
    listed = apply_rules(reg.families, reg.members)["has_component"].to_numpy()
    lost = listed & ~reg.truth["has_component"].to_numpy()
    assert lost.any() and (reg.truth["n_died"].to_numpy()[lost] > 0).all()
    # the better off a family really is, the likelier a wage or civil-service record
    fam = truth[linked & truth["source"].isin(["formal_wage", "civil_servant", "vehicle"])]["family_id"].unique()
    desil = reg.truth.set_index("family_id")["desil"]
    assert desil[desil.index.isin(fam)].mean() > desil.mean() + 0.5
