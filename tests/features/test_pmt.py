from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from conftest import REF, hand_made_family
from pkh_targeting import SchemaError, generate_registry, validate_records
from pkh_targeting.features import PMTFeatureBuilder, family_groups, feature_docs_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"


@pytest.fixture(scope="module")
def records(small_registry):
    return small_registry.families, small_registry.members


@pytest.fixture(scope="module")
def fitted(records):
    return PMTFeatureBuilder().fit(records)


def test_sklearn_contract(fitted):
    b = PMTFeatureBuilder(smoothing=5.0)
    assert clone(b).get_params() == {"rules": "pkh-2025", "smoothing": 5.0}
    assert b.set_params(smoothing=1.0).smoothing == 1.0
    with pytest.raises(NotFittedError):
        PMTFeatureBuilder().transform(None)
    with pytest.raises(ValueError, match="smoothing must be >= 0, got -1"):
        PMTFeatureBuilder(smoothing=-1).fit(None)
    assert list(fitted.get_feature_names_out()) == list(fitted.feature_names_out_)


def test_matrix_shape_and_types(fitted, records):
    X = fitted.transform(records)
    assert X.index.name == "family_id" and X.index.is_unique
    assert list(X.index) == list(records[0].family_id)
    assert (X.dtypes == np.float32).all()
    assert not X.drop(columns=["head_age", "province"]).isna().any().any()


def test_hand_computed_features():
    fam, mem = hand_made_family()
    res = validate_records(fam, mem, reference_date=REF)
    X = PMTFeatureBuilder().fit_transform(res).iloc[0]
    assert X.household_size == 3 and X.n_age_5_14 == 1 and X.n_age_15_64 == 2
    assert X.dependency_ratio == 0.5
    assert X.floor_area_per_capita == 15.0
    assert X.floor_quality == 2 and X.floor_material_6 == 1 and X.floor_material_2 == 0
    assert X.improved_water == 1 and X.improved_sanitation == 1
    assert X.electricity_va == 900 and X.electricity_subsidised == 1 and X.cooking_fuel_lpg_3kg == 1
    assert X.head_female == 0 and X.head_age == 40 and X.head_education == 2 and X.head_status_1 == 1
    assert X.share_insurance_1 == 1.0
    assert X.n_school_sd == 1 and X.n_components == 1 and X.benefit_rp == pytest.approx(0.9)
    assert X.has_motorcycle == 1 and X.has_car == 0 and X.livestock_tlu == 0
    # a village alone in fit: its context equals its own value
    assert X.village_mean_dwelling_quality == pytest.approx(2 + 4 + 3)


def test_livestock_in_tropical_units(records):
    fam, mem = records
    fam = fam.copy()
    fam.loc[0, ["n_cattle", "n_buffalo", "n_horse", "n_pig", "n_goat"]] = [2, 1, 0, 5, 10]
    X = PMTFeatureBuilder().fit_transform((fam, mem))
    assert X.livestock_tlu.iloc[0] == pytest.approx(2 * 0.7 + 0.7 + 5 * 0.2 + 10 * 0.1)


def test_same_features_alone_or_in_a_batch(fitted, records):
    fam, mem = records
    batch = fitted.transform(records)
    one = fam.iloc[[7]]
    alone = fitted.transform((one, mem[mem.family_id == one.family_id.iloc[0]]))
    pd.testing.assert_frame_equal(alone, batch.iloc[[7]])


def test_everything_learned_comes_from_fit(records):
    fam, mem = records
    half = fam.family_id.iloc[: len(fam) // 2]
    train = (fam[fam.family_id.isin(half)], mem[mem.family_id.isin(half)])
    b = PMTFeatureBuilder().fit(train)
    weights = b.index_weights_.copy()
    X1 = b.transform(records)
    X2 = b.transform((fam.iloc[::-1], mem))  # other batches leave it unchanged
    np.testing.assert_array_equal(b.index_weights_, weights)
    pd.testing.assert_frame_equal(X1, X2.loc[X1.index])
    # a village never seen in fit takes its district's context
    new = fam.iloc[[0]].assign(village_code=fam.district_code.iloc[0] + "999")
    Xn = b.transform((new, mem[mem.family_id == new.family_id.iloc[0]]))
    assert Xn.village_mean_asset_index.iloc[0] == Xn.district_mean_asset_index.iloc[0]


def test_asset_index_rises_with_welfare(fitted, records, small_registry):
    X = fitted.transform(records)
    rho = np.corrcoef(X.asset_index, np.log(small_registry.truth.consumption_per_capita))[0, 1]
    assert rho > 0.4


def test_feature_dictionary_covers_every_feature_and_docs_are_in_sync(fitted):
    d = fitted.feature_dictionary_
    assert list(d.name) == list(fitted.feature_names_out_)
    assert d.meaning.str.len().min() > 5 and d.concept.notna().all()
    reg = generate_registry(200, seed=0, reference_date="2025-01-01")
    assert DOCS.read_text() == feature_docs_markdown(reg.families, reg.members), "rewrite docs/features.md"


def test_missing_columns_raise(records):
    fam, mem = records
    with pytest.raises(SchemaError, match="floor_material"):
        PMTFeatureBuilder().fit((fam.drop(columns="floor_material"), mem))


def test_transform_shows_the_column_diff(fitted, records):
    fam, mem = records
    assert fitted.n_features_in_ == len(fitted.feature_names_in_) and "members.nik" in fitted.feature_names_in_
    with pytest.raises(SchemaError, match=r"differ from those seen in fit\(\)[^\n]*\n- families.floor_material$"):
        fitted.transform((fam.drop(columns="floor_material"), mem))
    state = PMTFeatureBuilder.from_state(fitted.get_state())
    assert list(state.feature_names_in_) == list(fitted.feature_names_in_)


def test_transform_writes_no_state(fitted, records):
    before = {k: v for k, v in vars(fitted).items() if not k.startswith("__")}
    fitted.transform((records[0].head(20), records[1][records[1].family_id.isin(records[0].family_id.head(20))]))
    assert vars(fitted).keys() == before.keys() and all(vars(fitted)[k] is v for k, v in before.items())


def test_groups(records):
    g = family_groups(records[0])
    assert list(g.columns) == ["province_code", "regency_code", "district_code", "village_code", "urban"]
