"""The fast reasons equal the reasons as they were first written (`_reference_explain`), on a fixed
registry with registry records and community reports, in both languages."""

import numpy as np
import pytest
from _reference_explain import ReferenceExplainer

from conftest import REF
from pkh_targeting import TargetingModel, generate_registry
from pkh_targeting.explain import Explainer
from pkh_targeting.modeling._linked import components


@pytest.fixture(scope="module")
def model():
    reg = generate_registry(5_000, seed=61, regions_seed=0, reference_date=REF)
    evidence = {"registry_records": reg.registry_records, "community_reports": reg.community_reports}
    return TargetingModel(cv={"n_splits": 3}).fit(reg.families, reg.members, reference_date=REF, **evidence)


@pytest.fixture(scope="module")
def batch(model):
    reg = generate_registry(3_000, seed=62, regions_seed=0, reference_date=REF)
    evidence = {"registry_records": reg.registry_records, "community_reports": reg.community_reports}
    out = model.score_records(reg.families, reg.members, reference_date=REF, reasons="all", **evidence)
    fam = out.validation.families.reset_index(drop=True)
    comps = components(fam, out.validation.members, out.evidence.links, model.rules_)
    return out.features, fam, comps, out.scores


def test_contributions_equal_the_reference(model, batch):
    X = batch[0]
    fast, base = Explainer(model).concept_contributions(X)
    ref, ref_base = ReferenceExplainer(model).concept_contributions(X)
    assert list(fast.columns) == list(ref.columns)
    np.testing.assert_allclose(fast.to_numpy(), ref.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(base, ref_base, rtol=0, atol=1e-9)


@pytest.mark.parametrize("language", ["id", "en"])
def test_reasons_equal_the_reference(model, batch, language):
    X, fam, comps, scores = batch
    receives = fam["receives_pkh"].to_numpy(bool)
    by_rule = {k: comps[k].to_numpy() for k in ("component_died", "excluded")}
    args = (X, fam, receives, comps["has_component"].to_numpy())
    fast = Explainer(model, language=language).reasons(*args, by_rule=by_rule)
    ref = ReferenceExplainer(model, language=language).reasons(*args, by_rule=by_rule)
    assert fast.notna().all()
    if language == "id":  # and the scored batch's
        assert (scores["reasons"].to_numpy() == ref.to_numpy()).all()
    assert (fast == ref).all(), fast[fast != ref].head()
    kinds = ("Sanggah", "PLN", "usul") if language == "id" else ("objection", "PLN", "proposal")
    for word in kinds:  # the registries' and the reports' texts are among them
        assert fast.str.contains(word, case=False).any(), word
