import pandas as pd
import pytest

from conftest import REF
from pkh_targeting import generate_registry, pseudonymize, validate_records
from pkh_targeting.modeling import TargetingModel


def test_pseudonyms_are_keyed_consistent_and_hide_personal_data(small_registry, monkeypatch):
    fam, mem = small_registry.families, small_registry.members
    pf, pm = pseudonymize(fam, mem, key="k1")
    assert "head_name" not in pf and "address" not in pf and "name" not in pm
    text = pf.to_csv() + pm.to_csv()
    assert not any(n in text for n in mem.nik.dropna()) and not any(i in text for i in fam.family_id)
    assert not any(n in text for n in mem.name.dropna())
    assert set(pm.family_id) == set(pf.family_id) and pf.family_id.is_unique
    assert pm.nik.isna().sum() == mem.nik.isna().sum()
    again, _ = pseudonymize(fam, mem, key="k1")
    other, _ = pseudonymize(fam, mem, key="k2")
    assert again.family_id.equals(pf.family_id) and not other.family_id.equals(pf.family_id)
    monkeypatch.setenv("PKH_PSEUDONYM_KEY", "k1")
    assert pseudonymize(fam, mem)[0].family_id.equals(pf.family_id)
    monkeypatch.delenv("PKH_PSEUDONYM_KEY")
    with pytest.raises(ValueError, match="PKH_PSEUDONYM_KEY"):
        pseudonymize(fam, mem)


def test_same_inputs_config_and_seed_give_byte_identical_scores(tmp_path):
    reg = generate_registry(4_000, seed=81, regions_seed=0, reference_date=REF)
    batch = generate_registry(600, seed=82, regions_seed=0, reference_date=REF)
    paths = []
    for i in range(2):
        model = TargetingModel(cv={"n_splits": 3}).fit(reg.families, reg.members, reference_date=REF)
        s = model.score(batch.families, batch.members, reference_date=REF, reasons="all")
        paths.append(tmp_path / f"s{i}.parquet")
        s.to_parquet(paths[-1], index=False)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert validate_records(batch.families, batch.members, reference_date=REF).quarantine.empty
    assert pd.read_parquet(paths[0]).reasons.notna().all()
