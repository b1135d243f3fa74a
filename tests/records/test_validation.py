import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REF, examples, hand_made_family
from pkh_targeting import SchemaError, load_contract, validate_records


def check_invariant(res, fam, mem):
    """Every input row is either valid or in the quarantine, never both."""
    for table, df, valid in (("families", fam, res.families), ("members", mem, res.members)):
        q = set(res.quarantine.loc[res.quarantine.table == table, "row"])
        assert q.isdisjoint(valid.index)
        assert q | set(valid.index) == set(range(len(df)))


def test_hand_made_family_is_valid(family):
    res = validate_records(*family, reference_date=REF)
    assert res.quarantine.empty
    assert len(res.families) == 1 and len(res.members) == 3
    assert res.members["age"].dtype == "int64" and res.families["urban"].dtype == "bool"
    assert res.members["school_level"].dtype == "Int64"


def _set(table, column, value, row=0):
    def corrupt(fam, mem):
        df = fam if table == "families" else mem
        df[column] = df[column].astype(object)
        df.loc[row, column] = value

    return corrupt


RULE_CASES = {
    "dtype bool": (_set("families", "urban", "maybe"), "families", "dtype"),
    "dtype int": (_set("members", "age", "forty"), "members", "dtype"),
    "fraction in int": (_set("members", "age", 40.5), "members", "dtype"),
    "dtype float": (_set("families", "floor_area_m2", "45m"), "families", "dtype"),
    "not null": (_set("families", "floor_material", None), "families", "not_null"),
    "unknown code": (_set("families", "floor_material", 12), "families", "codes"),
    "unknown relationship": (_set("members", "relationship", 9, row=2), "members", "codes"),
    "below minimum": (_set("families", "floor_area_m2", 0.5), "families", "range"),
    "above maximum": (_set("members", "age", 121, row=2), "members", "range"),
    "negative count": (_set("families", "n_cattle", -2), "families", "range"),
    "infinite float": (_set("families", "floor_area_m2", float("inf")), "families", "range"),
    "region pattern": (_set("families", "village_code", "32730100AB"), "families", "pattern"),
    "nik pattern": (_set("members", "nik", "327301120585"), "members", "pattern"),
    "nik region": (_set("members", "nik", "3204011205850001"), "members", "nik_region"),
    "nik birth date": (_set("members", "nik", "3273013205850001"), "members", "nik_birth_date"),
    "nik february 30": (_set("members", "nik", "3273013002850001"), "members", "nik_birth_date"),
    "nik sex": (_set("members", "nik", "3273015205850001"), "members", "nik_sex"),
    "nik age": (_set("members", "age", 45), "members", "nik_age"),
    "nik twice in family": (_set("members", "nik", "3273011205850001", row=1), "members", "nik_duplicate"),
    "n_members": (_set("families", "n_members", 4), "families", "n_members_mismatch"),
    "two heads": (_set("members", "relationship", 1, row=1), "families", "one_head"),
    "no head": (_set("members", "relationship", 3, row=0), "families", "one_head"),
    "region nesting": (_set("families", "district_code", "3204010"), "families", "region_nesting"),
    "va without meter": (_set("families", "lighting", 2), "families", "electricity_va_without_meter"),
    "pregnant man": (_set("members", "pregnant", True, row=0), "members", "pregnant_implausible"),
    "pregnant child": (_set("members", "pregnant", True, row=2), "members", "pregnant_implausible"),
    "level not attending": (_set("members", "school_participation", 3, row=2), "members", "school_level_not_attending"),
    "duplicate member_no": (_set("members", "member_no", 1, row=1), "members", "duplicate_member_no"),
}


@pytest.mark.parametrize("case", RULE_CASES)
def test_each_rule_quarantines_the_whole_family(case, family):
    corrupt, table, rule = RULE_CASES[case]
    fam, mem = family
    corrupt(fam, mem)
    res = validate_records(fam, mem, reference_date=REF)
    q = res.quarantine
    assert rule in set(q.loc[q.table == table, "rule"]), q[["table", "column", "rule", "message"]]
    assert res.families.empty and res.members.empty  # the family goes whole, with its members
    assert (q["message"].str.len() > 10).all()
    check_invariant(res, fam, mem)


def test_problem_row_names_column_value_and_key(two_families):
    fam, mem = two_families
    fam.loc[1, "floor_material"] = 12
    res = validate_records(fam, mem, reference_date=REF)
    row = res.quarantine.query("rule == 'codes'").iloc[0]
    assert (row.table, row.row, row.family_id, row.column, row.value) == (
        "families",
        1,
        "KK-002",
        "floor_material",
        "12",
    )
    assert "303" in row.message and "ceramic" in row.message
    assert list(res.families.family_id) == ["KK-001"]
    assert set(res.quarantine.query("table == 'members'").rule) == {"invalid_family"}


def test_nik_in_two_families_flags_both(two_families):
    fam, mem = two_families
    mem.loc[3, "nik"] = mem.loc[0, "nik"]
    res = validate_records(fam, mem, reference_date=REF)
    dup = res.quarantine.query("rule == 'nik_duplicate'")
    assert set(dup.family_id) == {"KK-001", "KK-002"}
    assert dup.message.str.contains("more than one family").all()
    assert res.families.empty


def test_nik_values_are_masked_in_the_quarantine(family):
    fam, mem = family
    mem.loc[0, "nik"] = "3204011205850001"
    res = validate_records(fam, mem, reference_date=REF)
    value = res.quarantine.query("rule == 'nik_region'").value.iloc[0]
    assert value == "320401******0001"
    assert "Budi" not in res.quarantine.to_csv()


def test_duplicate_family_id_and_orphans(two_families):
    fam, mem = two_families
    fam.loc[1, "family_id"] = "KK-001"
    res = validate_records(fam, mem, reference_date=REF)
    rules = set(res.quarantine.rule)
    assert {"duplicate_family_id", "member_without_family"} <= rules
    assert res.families.empty and res.members.empty
    check_invariant(res, fam, mem)


def test_messy_export_values_are_coerced(family):
    fam, mem = family
    fam = fam.astype(object)
    fam.loc[0, ["urban", "has_car", "receives_pkh", "floor_material", "village_code"]] = [
        "Ya",
        "Tidak",
        "1",
        "06",
        3273010001.0,
    ]
    mem = mem.astype(object)
    mem["pregnant"] = ["false", "FALSE", 0]
    mem["age"] = ["40", "34", "8.0"]
    res = validate_records(fam, mem, reference_date=REF)
    assert res.quarantine.empty, res.quarantine
    f = res.families.iloc[0]
    assert f.urban and not f.has_car and f.receives_pkh and f.floor_material == 6
    assert f.village_code == "3273010001"


def test_lost_leading_zeros_are_restored():
    fam, mem = hand_made_family()
    # a (fictional) province 05 that Excel turned into numbers
    fam[["province_code", "regency_code", "district_code", "village_code"]] = [5, 501, 501010, 501010001]
    mem["nik"] = ["0501011205850001", "0501014308900002", "0501015503170003"]
    res = validate_records(fam, mem, reference_date=REF)
    assert res.quarantine.empty, res.quarantine
    assert res.families.village_code.iloc[0] == "0501010001"


def test_indonesian_column_names(family):
    fam, mem = family
    fam = fam.rename(columns={"family_id": "ID Keluarga", "floor_material": "jenis_lantai", "urban": "Perkotaan"})
    mem = mem.rename(columns={"age": "umur", "sex": "Jenis Kelamin"})
    res = validate_records(fam, mem, reference_date=REF)
    assert res.quarantine.empty and "floor_material" in res.families


def test_extra_columns_are_kept(family):
    fam, mem = family
    fam["catatan"] = "x"
    res = validate_records(fam, mem, reference_date=REF)
    assert res.families["catatan"].iloc[0] == "x"


def test_missing_column_is_a_schema_error(family):
    fam, mem = family
    with pytest.raises(SchemaError, match=r"misses 1 required column\(s\): floor_material"):
        validate_records(fam.drop(columns="floor_material"), mem)


def test_outcome_columns_may_be_absent(family):
    fam, mem = family
    res = validate_records(fam.drop(columns=["verified_eligible", "consumption_per_capita"]), mem, reference_date=REF)
    assert res.quarantine.empty


def test_optional_columns_come_from_the_contract(family):
    contract = load_contract()
    names = ["province_name", "regency_name", "district_name", "village_name"]  # version 3
    assert contract["families"].optional == [*names, "verified_eligible", "consumption_per_capita"]
    assert contract["members"].optional == ["name"] and contract["members"].columns["name"].pii
    fam, mem = family
    res = validate_records(fam, mem.drop(columns="name", errors="ignore"), reference_date=REF)
    assert res.members["name"].isna().all() and str(res.members["name"].dtype) == "string"
    named = validate_records(fam, mem.assign(Nama=["Budi", "Siti", None]), reference_date=REF)
    assert list(named.members["name"].fillna("-")) == ["Budi", "Siti", "-"]


def test_synthetic_registry_is_valid(small_registry):
    reg = small_registry
    res = validate_records(reg.families, reg.members, reference_date=reg.reference_date)
    assert res.quarantine.empty
    assert len(res.families) == len(reg.families) and len(res.members) == len(reg.members)


# Corruptions with the rule that must catch them: (table, column, value, rule)
CORRUPTIONS = [
    ("families", "floor_material", 99, "codes"),
    ("families", "n_members", 0, "range"),
    ("families", "province_code", "ab", "pattern"),
    ("families", "urban", "kadang", "dtype"),
    ("families", "floor_area_m2", np.nan, "not_null"),
    ("families", "n_goat", -1, "range"),
    ("families", "lighting", 4, "electricity_va_without_meter"),
    ("members", "sex", 3, "codes"),
    ("members", "age", 150, "range"),
    ("members", "nik", "12345", "pattern"),
    ("members", "relationship", "kepala", "dtype"),
    ("members", "education", None, "not_null"),
    ("members", "member_no", 0, "range"),
]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruptions_are_caught_and_nothing_is_lost(data, small_registry):
    fam = small_registry.families.copy()
    mem = small_registry.members.copy()
    expected = []
    for _ in range(data.draw(st.integers(1, 5))):
        table, column, value, rule = data.draw(st.sampled_from(CORRUPTIONS))
        df = fam if table == "families" else mem
        if rule == "electricity_va_without_meter":
            candidates = np.flatnonzero(df["electricity_va"].notna().to_numpy())
        else:
            candidates = np.arange(len(df))
        row = int(data.draw(st.sampled_from(candidates.tolist())))
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
        expected.append((table, row, rule))
    res = validate_records(fam, mem, reference_date=small_registry.reference_date)
    check_invariant(res, fam, mem)
    q = res.quarantine
    found = set(zip(q.table, q.row, q.rule))
    for table, row, rule in expected:
        assert (table, row, rule) in found
        key = (fam if table == "families" else mem).loc[row, "family_id"]
        assert key not in set(res.families.family_id)
