from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from conftest import REF
from pkh_targeting import SchemaError, generate_registry
from pkh_targeting.config import TrainConfig, load_config
from pkh_targeting.features import PMTFeatureBuilder
from pkh_targeting.modeling import TargetingModel, WelfareModel
from pkh_targeting.records import contract_version, scores_contract

SCORES = yaml.safe_load((Path(__import__("pkh_targeting").__path__[0]) / "contract" / "scores.yaml").read_text())
FAST = {"cv": {"n_splits": 3}}


@pytest.fixture(scope="module")
def train_reg():
    return generate_registry(8_000, seed=21, regions_seed=0, reference_date=REF)


@pytest.fixture(scope="module")
def test_reg():
    return generate_registry(3_000, seed=22, regions_seed=0, reference_date=REF)


@pytest.fixture(scope="module")
def model(train_reg):
    return TargetingModel(**FAST).fit(train_reg.families, train_reg.members, reference_date=REF)


@pytest.fixture(scope="module")
def scores(model, test_reg):
    return model.score(test_reg.families, test_reg.members, reference_date=REF)


def test_scores_follow_the_contract(scores, test_reg):
    assert list(scores.columns) == list(SCORES["columns"]) == list(scores_contract().columns)
    assert len(scores) == len(test_reg.families)
    kinds = {"string": "string", "bool": "bool", "int": "int64", "float": "float64"}
    for col, spec in SCORES["columns"].items():
        assert str(scores[col].dtype) == kinds[spec["dtype"]], col
    assert scores.p_eligible.between(0, 1).all()
    assert set(scores.error_type) == {"inclusion", "exclusion"}
    ben = scores.receives_pkh
    np.testing.assert_allclose(scores.error_score[ben], 1 - scores.p_eligible[ben])
    np.testing.assert_allclose(scores.error_score[~ben], scores.p_eligible[~ben])
    assert (scores.rules_version == "pkh-2025").all() and scores.model_version.str.startswith("local:").all()


def test_rules_are_hard_where_certain(scores, model, test_reg):
    no_comp = scores.n_components == 0
    assert (scores.p_eligible[no_comp] == 0).all()
    incl = no_comp & scores.receives_pkh
    assert incl.any()
    assert (scores.error_score[incl] == 1).all() and (scores.reasons[incl] == "tidak ada komponen PKH").all()
    english = model.score(test_reg.families, test_reg.members, reference_date=REF, language="en")
    assert (english.reasons[incl] == "no PKH component").all()
    assert (scores.error_score[no_comp & ~scores.receives_pkh] == 0).all()
    assert (scores.benefit_rp[no_comp] == 0).all() and (scores.benefit_rp[~no_comp] > 0).all()


def test_out_of_sample_ranking_beats_the_pmt_and_the_rules(scores, train_reg, test_reg):
    """On a later registry of the same regions, the model ranks eligibility, inclusion errors
    (beneficiaries) and exclusion errors (the others) better than the OLS proxy-means test fitted on
    the same survey, and far better than the rules alone (the number of components)."""
    truth = test_reg.truth.set_index("family_id").loc[scores.family_id]
    builder = PMTFeatureBuilder().fit((train_reg.families, train_reg.members))
    line = lambda f: np.where(f.urban, 629_561, 580_349)  # noqa: E731
    y = train_reg.families.consumption_per_capita.to_numpy(dtype=float, na_value=np.nan) / line(train_reg.families)
    surveyed = np.isfinite(y)
    ols = WelfareModel("ols", categorical_features=["province"]).fit(
        builder.transform((train_reg.families, train_reg.members))[surveyed], y[surveyed]
    )
    has = scores.n_components.to_numpy() > 0
    pmt = np.where(has, -ols.predict_log(builder.transform((test_reg.families, test_reg.members))), -1e9)
    ben = scores.receives_pkh.to_numpy()

    def auc(p):
        return (
            roc_auc_score(truth.eligible, p),
            roc_auc_score(truth.inclusion_error[ben], -p[ben]),
            roc_auc_score(truth.exclusion_error[~ben], p[~ben]),
        )

    model, baseline, rules = auc(scores.p_eligible.to_numpy()), auc(pmt), auc(scores.n_components.to_numpy(float))
    assert all(m > b for m, b in zip(model, baseline)), (model, baseline)
    assert all(m > r + 0.08 for m, r in zip(model, rules)), (model, rules)
    # calibrated: the mean probability is near the true eligible share
    assert scores.p_eligible.mean() == pytest.approx(truth.eligible.mean(), abs=0.06)


def test_cv_metrics_are_reported_for_unseen_regencies(model):
    m = model.cv_metrics_
    assert 0.6 < m["survey_auc"] < 1 and m["survey_auc_low"] <= m["survey_auc"] <= m["survey_auc_high"]
    assert 0 < m["survey_brier"] < 0.25 and m["survey_ece"] < 0.15
    # the OLS baseline is never calibrated: its raw probabilities are its probabilities, not the model's
    assert m["baseline_ols_survey_raw_brier"] == m["baseline_ols_survey_brier"] != m["survey_raw_brier"]
    assert len(model.iterations_) == 3
    assert set(model.oof_.source) == {"survey", "verification"}


def test_same_inputs_same_model(train_reg, model):
    again = TargetingModel(**FAST).fit(train_reg.families, train_reg.members, reference_date=REF)
    assert again.classifier_.model_to_string() == model.classifier_.model_to_string()
    assert again.model_version == model.model_version


def test_save_and_load_give_the_same_scores(model, scores, test_reg, tmp_path):
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["classifier.txt", "model.json"]
    back = TargetingModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(back.score(test_reg.families, test_reg.members, reference_date=REF), scores)


def test_load_refuses_foreign_folders_and_contracts(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a pkh-targeting model"):
        TargetingModel.load(tmp_path)
    model.save(tmp_path / "m")
    state = (
        (tmp_path / "m" / "model.json")
        .read_text()
        .replace(f'"contract_version": {contract_version()}', '"contract_version": 99')
    )
    (tmp_path / "m" / "model.json").write_text(state)
    with pytest.raises(SchemaError, match="contract version 99"):
        TargetingModel.load(tmp_path / "m")


def test_a_model_of_contract_1_still_scores(model, scores, test_reg, tmp_path):
    model.save(tmp_path / "m", model_version="pkh/7")
    path = tmp_path / "m" / "model.json"
    path.write_text(path.read_text().replace(f'"contract_version": {contract_version()}', '"contract_version": 1'))
    old = TargetingModel.load(tmp_path / "m")
    again = old.score(test_reg.families, test_reg.members.drop(columns="name"), reference_date=REF)
    assert (again.model_version == "pkh/7").all() and not hasattr(model, "registered_version_")
    pd.testing.assert_frame_equal(again.drop(columns="model_version"), scores.drop(columns="model_version"))


def test_quarantined_rows_are_not_scored_but_kept(model):
    reg = generate_registry(1_000, seed=23, regions_seed=0, reference_date=REF, defect_rate=0.05)
    out = model.score_records(reg.families, reg.members, reference_date=REF)
    q = out.quarantine.query("table == 'families'")
    assert len(out.scores) + q.row.nunique() == len(reg.families)
    assert set(out.scores.family_id).isdisjoint(q.family_id)


def test_config_file_and_overrides(tmp_path):
    assert load_config() == TrainConfig()
    m = TargetingModel(calibration="sigmoid", cv={"n_splits": 4})
    assert m.config.calibration == "sigmoid" and m.config.cv.n_splits == 4
    bad = tmp_path / "c.yaml"
    bad.write_text("calibraton: isotonic\n")
    with pytest.raises(ValueError, match="calibraton"):
        load_config(bad)


def test_too_few_labels_is_a_clear_error(train_reg):
    fam = train_reg.families.assign(verified_eligible=pd.NA, consumption_per_capita=np.nan)
    with pytest.raises(ValueError, match="too few to train"):
        TargetingModel(**FAST).fit(fam, train_reg.members, reference_date=REF)
