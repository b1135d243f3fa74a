"""Each rule across fields and tables names its table, row, column and reason, at its boundaries.

Every case changes the hand-made family (conftest; a second family "KK-002" where a case needs one)
and lists the quarantine rows of these rules it must give, exactly.
"""

import pandas as pd
import pytest

from conftest import REF, hand_made_family
from pkh_targeting import validate_records

RULES = {
    "duplicate_family_id", "region_nesting", "electricity_va_without_meter", "n_members_mismatch", "one_head",
    "member_without_family", "duplicate_member_no", "pregnant_implausible", "school_level_not_attending",
    "nik_duplicate", "nik_region", "nik_birth_date", "nik_sex", "nik_age",
}  # fmt: skip


def two():
    f1, m1 = hand_made_family("KK-001")
    f2, m2 = hand_made_family("KK-002")
    m2["nik"] = m2["nik"].str.slice(0, 12) + ["0011", "0012", "0013"]
    return pd.concat([f1, f2], ignore_index=True), pd.concat([m1, m2], ignore_index=True)


def change(fam=None, mem=None, families=None):
    """The hand-made family with ``fam`` (column: value) and ``mem`` ((row, column): value) changed."""
    f, m = families() if families else hand_made_family()
    for col, value in (fam or {}).items():
        f[col] = f[col].astype(object)
        f.loc[0, col] = value
    for (row, col), value in (mem or {}).items():
        m[col] = m[col].astype(object)
        m.loc[row, col] = value
    return f, m


NO_HEAD_MSG = "the family has {} members with relationship = head; it needs exactly one"
TWICE = "family_id appears more than once in the families table"
N_MEMBERS = "n_members (item 112) = {} but the members table has {} row(s)"
PREGNANT = "pregnant (item 410) is only possible for women aged 10-54"
CASES = {
    "family id twice": (
        lambda: (lambda f, m: (pd.concat([f, f], ignore_index=True), m))(*hand_made_family()),
        [("families", r, "family_id", "duplicate_family_id", TWICE) for r in (0, 1)],
    ),
    "district outside its regency": (
        lambda: change({"district_code": "3274010", "village_code": "3274010001"}),
        [("families", 0, "district_code", "region_nesting", "district_code does not start with regency_code")],
    ),
    "village outside its district": (
        lambda: change({"village_code": "3273020001"}),
        [("families", 0, "village_code", "region_nesting", "village_code does not start with district_code")],
    ),
    "VA without a meter": (
        lambda: change({"lighting": 2}),
        [("families", 0, "electricity_va", "electricity_va_without_meter",
          "electricity_va (item 307b) is given but lighting (307a) is not PLN metered")],
    ),
    "VA with the lighting not answered": (
        lambda: change({"lighting": None}),
        [("families", 0, "electricity_va", "electricity_va_without_meter",
          "electricity_va (item 307b) is given but lighting (307a) is not PLN metered")],
    ),
    "n_members off": (
        lambda: change({"n_members": 4}),
        [("families", 0, "n_members", "n_members_mismatch", N_MEMBERS.format(4, 3))],
    ),
    "two heads": (
        lambda: change(mem={(1, "relationship"): 1}),
        [("families", 0, "relationship", "one_head", NO_HEAD_MSG.format(2))],
    ),
    "no head": (
        lambda: change(mem={(0, "relationship"): 2}),
        [("families", 0, "relationship", "one_head", NO_HEAD_MSG.format(0))],
    ),
    "a relationship not answered is not a head": (lambda: change(mem={(1, "relationship"): None}), []),
    "member of no family": (
        lambda: change(mem={(2, "family_id"): "KK-999"}),
        [
            ("members", 2, "family_id", "member_without_family", "member's family_id is not in the families table"),
            ("families", 0, "n_members", "n_members_mismatch", N_MEMBERS.format(3, 2)),
        ],
    ),
    "member_no twice": (
        lambda: change(mem={(2, "member_no"): 2}),
        [("members", r, "member_no", "duplicate_member_no", "member_no appears twice in the family") for r in (1, 2)],
    ),
    "a pregnant man": (
        lambda: change(mem={(0, "pregnant"): True}),
        [("members", 0, "pregnant", "pregnant_implausible", PREGNANT)],
    ),
    "pregnant at 54 and at 10": (
        lambda: change(mem={(1, "pregnant"): True, (1, "age"): 54, (1, "nik"): "3273014308700002",
                            (2, "pregnant"): True, (2, "age"): 10, (2, "nik"): "3273015503150003"}),
        [],
    ),
    "pregnant at 55 and at 9": (
        lambda: change(mem={(1, "pregnant"): True, (1, "age"): 55, (1, "nik"): "3273014308690002",
                            (2, "pregnant"): True, (2, "age"): 9, (2, "nik"): "3273015503160003"}),
        [("members", r, "pregnant", "pregnant_implausible", PREGNANT) for r in (1, 2)],
    ),
    "pregnancy not answered": (lambda: change(mem={(0, "pregnant"): None}), []),
    "pregnant with the age not given": (
        lambda: change(mem={(1, "pregnant"): True, (1, "age"): None}),
        [("members", 1, "pregnant", "pregnant_implausible", PREGNANT)],
    ),
    "a school level with attendance not answered": (
        lambda: change(mem={(2, "school_participation"): None}),
        [("members", 2, "school_level", "school_level_not_attending",
          "school_level is given but the member is not attending school (412)")],
    ),
    "a school level without attending": (
        lambda: change(mem={(1, "school_level"): 2}),
        [("members", 1, "school_level", "school_level_not_attending",
          "school_level is given but the member is not attending school (412)")],
    ),
    "a NIK twice in one family": (
        lambda: change(mem={(2, "nik"): "3273014308900002", (2, "sex"): 2, (2, "age"): 34}),
        [("members", r, "nik", "nik_duplicate", "NIK appears twice in one family") for r in (1, 2)],
    ),
    "a NIK in two families": (
        lambda: change(mem={(5, "nik"): "3273015503170003"}, families=two),
        [("members", r, "nik", "nik_duplicate", "NIK appears in more than one family") for r in (2, 5)],
    ),
    "a man's NIK for a woman": (
        lambda: change(mem={(1, "sex"): 1}),
        [("members", 1, "nik", "nik_sex", "NIK birth day says female but sex (item 405) says otherwise")],
    ),
    "a woman's NIK for a man": (
        lambda: change(mem={(0, "sex"): 2}),
        [("members", 0, "nik", "nik_sex", "NIK birth day says male but sex (item 405) says otherwise")],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_each_rule_names_its_row_column_and_reason(case):
    make, expected = CASES[case]
    fam, mem = make()
    q = validate_records(fam, mem, reference_date=REF).quarantine
    got = q[q.rule.isin(RULES)][["table", "row", "column", "rule", "message"]]
    assert sorted(map(tuple, got.values.tolist())) == sorted(expected)


def test_keys_repeated_in_other_chunks_of_the_batch():
    from pkh_targeting.records.keys import BatchDuplicates

    fam, mem = hand_made_family()
    nik = mem.nik[1]
    twice, elsewhere = "NIK appears twice in one family", "NIK appears in more than one family"
    family = ("families", 0, "family_id", "duplicate_family_id", TWICE)
    cases = [
        (BatchDuplicates(family_ids=frozenset({"KK-001"})), [family]),
        (BatchDuplicates(nik_families={nik: 2}), [("members", 1, "nik", "nik_duplicate", elsewhere)]),
        (BatchDuplicates(nik_families={nik: 1}), [("members", 1, "nik", "nik_duplicate", twice)]),
        (BatchDuplicates(family_ids=frozenset({"KK-002"}), nik_families={"3273010101010001": 2}), []),
    ]  # fmt: skip
    for dups, expected in cases:
        q = validate_records(fam, mem, reference_date=REF, known_duplicates=dups).quarantine
        got = q[q.rule.isin(RULES)][["table", "row", "column", "rule", "message"]]
        assert sorted(map(tuple, got.values.tolist())) == expected, dups
