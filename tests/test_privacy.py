import numpy as np
import pandas as pd
import pytest

from conftest import REF, occurring
from pkh_targeting import generate_registry, pseudonymize, validate_records
from pkh_targeting.modeling import TargetingModel

K1, K2 = "k1" * 16, "k2" * 16


def test_pseudonyms_are_keyed_consistent_and_hide_personal_data(small_registry, monkeypatch):
    fam, mem = small_registry.families, small_registry.members
    pf, pm = pseudonymize(fam, mem, key=K1)
    assert "head_name" not in pf and "address" not in pf and "name" not in pm
    text = pf.to_csv() + pm.to_csv()
    assert not any(n in text for n in mem.nik.dropna()) and not any(i in text for i in fam.family_id)
    assert not any(n in text for n in mem.name.dropna())
    assert set(pm.family_id) == set(pf.family_id) and pf.family_id.is_unique
    assert pm.nik.isna().sum() == mem.nik.isna().sum()
    again, _ = pseudonymize(fam, mem, key=K1)
    other, _ = pseudonymize(fam, mem, key=K2)
    assert again.family_id.equals(pf.family_id) and not other.family_id.equals(pf.family_id)
    monkeypatch.setenv("PKH_PSEUDONYM_KEY", K1)
    assert pseudonymize(fam, mem)[0].family_id.equals(pf.family_id)
    monkeypatch.delenv("PKH_PSEUDONYM_KEY")
    with pytest.raises(ValueError, match="PKH_PSEUDONYM_KEY"):
        pseudonymize(fam, mem)
    for weak in ("12345", "x" * 31, b"y" * 31):
        with pytest.raises(ValueError, match="at least 32"):
            pseudonymize(fam, mem, key=weak)
    pseudonymize(fam, mem, key="x" * 32)


def test_pseudonyms_cover_the_evidence_tables(small_registry):
    reg = small_registry
    fam, mem, rec = pseudonymize(reg.families, reg.members, key=K1, registry_records=reg.registry_records)
    assert "full_name" not in rec and "birth_date" not in rec and rec["birth_year"].notna().any()
    text = rec.to_csv()
    assert not any(n in text for n in reg.registry_records["nik"].dropna())
    assert not any(r in text for r in reg.registry_records["record_id"])
    # the same NIK gets the same pseudonym in members and records: the extracts stay linkable
    exact = reg.record_truth["kind"].eq("exact_nik").to_numpy()
    assert rec.loc[exact, "nik"].isin(set(mem["nik"].dropna())).all()


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


def test_the_leak_scan_finds_every_string_that_occurs_and_no_other():
    blob = np.random.default_rng(0).integers(32, 127, 200_000, dtype=np.uint8).tobytes()  # printable, no newline
    inside = [blob[a : a + n].decode() for a, n in ((0, 16), (12_345, 9), (199_990, 10), (777, 3))]
    outside = [inside[1][:8] + "\n", inside[0][:12] + "\n", "Ani\n"]  # a head that occurs, then not the rest
    assert occurring(blob, inside + outside) == sorted(inside)
    assert occurring(blob[:5], inside) == [] and occurring(blob, ["Ani\n", inside[3]]) == [inside[3]]
