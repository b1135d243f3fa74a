import numpy as np
import pandas as pd
import pytest
import shap
from scipy.special import logit

from conftest import REF
from pkh_targeting import apply_rules, generate_registry, rank_for_verification
from pkh_targeting.explain import CONTEXT_CONCEPTS, Explainer, load_templates
from pkh_targeting.modeling import candidates, reachable


@pytest.fixture(scope="module")
def fitted(fitted_model):
    return fitted_model


@pytest.fixture(scope="module")
def batch(fitted):
    reg = generate_registry(1_500, seed=42, regions_seed=0, reference_date=REF)
    X = fitted.features(reg.families, reg.members)
    has = apply_rules(reg.families, reg.members)["has_component"].to_numpy()
    return reg, X, has


def test_tree_shap_matches_the_shap_library(fitted, batch):
    _, X, _ = batch
    ours = fitted.classifier_.predict(X, pred_contrib=True)
    theirs = shap.TreeExplainer(fitted.classifier_).shap_values(X)
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)


def test_contributions_add_up_to_the_log_odds(fitted, batch):
    _, X, _ = batch
    contrib, base = Explainer(fitted).contributions(X)
    assert "welfare_gap" not in contrib  # shared out over the features behind the welfare estimate
    np.testing.assert_allclose(base + contrib.sum(axis=1).to_numpy(), logit(fitted.predict_proba_raw(X)), atol=1e-5)
    c, b = fitted.welfare_.contributions(X.drop(columns="welfare_gap"))
    np.testing.assert_allclose(c.sum(axis=1).to_numpy() + b, X.welfare_gap, atol=1e-5)


def test_contributions_fold_to_questionnaire_items(fitted, batch):
    _, X, _ = batch
    ex = Explainer(fitted)
    contrib, _ = ex.contributions(X)
    folded, _ = ex.concept_contributions(X)
    floor = [c for c in contrib if c.startswith("floor_material_") or c == "floor_quality"]
    np.testing.assert_allclose(folded["floor material (303)"], contrib[floor].sum(axis=1), atol=1e-9)
    assert {"livestock (504)", "village context", "car (502k)", "PKH status (501b)"} <= set(folded.columns)
    np.testing.assert_allclose(folded.sum(axis=1), contrib.sum(axis=1), atol=1e-9)


@pytest.mark.parametrize("language", ["id", "en"])
def test_reasons_are_plain_words_with_honest_directions(fitted, batch, language):
    reg, X, has = batch
    ex = Explainer(fitted, language=language)
    folded, _ = ex.concept_contributions(X)
    receives = reg.families.receives_pkh.to_numpy()
    reasons = ex.reasons(X, reg.families, receives, has, folded=folded)
    words = load_templates()["directions"][language]
    rule = receives & ~has
    assert (reasons[rule] == load_templates()["no_component"][language]).all()
    others = reasons[~rule]
    assert others.str.count("; ").eq(2).all()  # three reasons
    # the first reason of a beneficiary lowers eligibility when any concept does (it supports the flag)
    first = others.str.split("; ").str[0]
    reasons_only = folded.drop(columns=[c for c in CONTEXT_CONCEPTS if c in folded])
    top_toward = np.max(reasons_only.to_numpy() * np.where(receives, -1, 1)[:, None], axis=1)[~rule]
    lowers = first.str.endswith(words["down"]).to_numpy()
    ben = receives[~rule]
    assert (lowers[ben & (top_toward > 0)]).all() and (~lowers[~ben & (top_toward > 0)]).all()
    # what an officer can check at the door or in a register: no region, no index
    context = {
        "id": "Provinsi|Tinggal di|Indeks aset|Kondisi desa",
        "en": "Province|Lives in an? (urban|rural)|Asset index|Conditions of",
    }
    assert not reasons.str.contains(context[language]).any()
    if language == "id":
        assert others.str.contains("Lantai |Dinding |Atap |Pendidikan|Tidak memiliki|Memiliki").any()


def test_the_asset_index_is_told_by_its_items(fitted, batch):
    _, X, _ = batch
    folded, _ = Explainer(fitted).concept_contributions(X)
    index = fitted.builder_.index_terms(X).sum(axis=1)
    np.testing.assert_allclose(index, X.asset_index, atol=1e-4)
    assert (folded["assets overall"][index.abs() > 1e-6] == 0).all()  # shared out over the assets and dwelling


def test_score_fills_reasons_where_lists_draw_from(fitted, batch):
    reg, _, _ = batch
    s = fitted.score(reg.families, reg.members, reference_date=REF)
    pd.testing.assert_series_equal(s.reasons.notna(), pd.Series(reachable(s), name="reasons"))
    assert 0 < s.reasons.notna().mean() < 0.5
    for budget, by in ((10, "district_code"), (int(0.1 * len(candidates(s))), "village_code")):
        ranked = rank_for_verification(s, budget, by=by)
        assert ranked.loc[~ranked.audit, "reasons"].notna().all()
    wider = fitted.score(reg.families, reg.members, reference_date=REF, reasons_share=0.3)
    assert wider.reasons.notna().sum() > s.reasons.notna().sum()
    assert (wider.reasons[s.reasons.notna()] == s.reasons.dropna()).all()
    assert fitted.score(reg.families, reg.members, reference_date=REF, reasons="all").reasons.notna().all()
    with pytest.raises(ValueError, match="reasons must be"):
        fitted.score(reg.families, reg.members, reference_date=REF, reasons="some")


def test_global_importance_and_plots(fitted, batch, tmp_path):
    reg, X, _ = batch
    ex = Explainer(fitted, language="en")
    imp = ex.global_importance(X)
    assert imp.iloc[0] >= imp.iloc[-1] >= 0 and imp.index.is_unique
    paths = ex.plots(X, reg.families, tmp_path, top=2)
    assert paths[0].name == "shap_beeswarm.png" and all(p.stat().st_size > 10_000 for p in paths)
    assert len(paths) >= 2


def test_language_is_checked(fitted):
    with pytest.raises(ValueError, match="language must be one of"):
        Explainer(fitted, language="fr")
