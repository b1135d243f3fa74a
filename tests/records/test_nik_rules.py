"""The NIK rules at their boundaries: birth day + 40 for women, leap days, months, digits, age within a year.

The hand-made family (conftest) is checked on 1 July 2025; each case changes its second member (a woman
born 3 August 1990, 34 years old) and names the rules her row must break, or none.
"""

import pytest

from conftest import REF, hand_made_family
from pkh_targeting import validate_records

NIK_RULES = {"pattern", "nik_region", "nik_birth_date", "nik_sex", "nik_age", "nik_duplicate"}

CASES = [
    # nik, sex, age, rules broken
    ("3273014308900002", 2, 34, set()),  # as made: 3 August 1990
    ("3273017101900002", 2, 35, set()),  # day 31 + 40 = 71: a woman born 31 January
    ("3273017201900002", 2, 35, {"nik_birth_date"}),  # day 72: no 32nd
    ("3273016902000002", 2, 25, set()),  # 29 February 2000: a leap year
    ("3273016902010002", 2, 24, {"nik_birth_date"}),  # 29 February 2001: not one
    ("3273017002000002", 2, 25, {"nik_birth_date"}),  # 30 February
    ("3273016902040002", 2, 21, set()),  # 29 February 2004: a leap year not divisible by 100
    ("3273016902000002", 2, 125, {"nik_birth_date"}),  # 29 February 1900: divisible by 100, not by 400
    # the 31st of each month with 30 days or fewer is no date; of the others it is
    ("3273017103900002", 2, 35, set()),
    ("3273017104900002", 2, 35, {"nik_birth_date"}),
    ("3273017105900002", 2, 35, set()),
    ("3273017106900002", 2, 35, {"nik_birth_date"}),
    ("3273017107900002", 2, 34, set()),
    ("3273017108900002", 2, 34, set()),
    ("3273017109900002", 2, 34, {"nik_birth_date"}),
    ("3273017110900002", 2, 34, set()),
    ("3273017111900002", 2, 34, {"nik_birth_date"}),
    ("3273017112900002", 2, 34, set()),
    ("3273014300900002", 2, 34, {"nik_birth_date"}),  # month 00
    ("3273014313900002", 2, 34, {"nik_birth_date"}),  # month 13
    ("3273014008900002", 2, 34, {"nik_birth_date"}),  # day 00 for a woman (40)
    ("3273010308900002", 2, 34, {"nik_sex"}),  # a man's birth day for a woman
    ("3273014308900002", 1, 34, {"nik_sex"}),  # a woman's birth day for a man
    ("3273014308900002", 2, 35, set()),  # one year off: tolerated
    ("3273014308900002", 2, 33, set()),
    ("3273014308900002", 2, 36, {"nik_age"}),  # two years off
    ("3273014308900002", 2, 32, {"nik_age"}),
    ("3273014107900002", 2, 35, set()),  # born 1 July 1990: 35 on the reference date itself
    ("3273014107900002", 2, 33, {"nik_age"}),
    ("3273024308900002", 2, 34, set()),  # another district of the same regency
    ("3274014308900002", 2, 34, {"nik_region"}),  # another regency
    ("３２７３０１４３０８９０００２", 2, 34, {"pattern"}),  # full-width digits
    ("٣٢٧٣٠١٤٣٠٨٩٠٠٠٠٢", 2, 34, {"pattern"}),  # Arabic-Indic digits
    ("327301430890000", 2, 34, {"pattern"}),  # 15 digits
    ("3273014308900001", 2, 34, set()),  # the head's serial with another birth date: another NIK
    ("3273011205850001", 2, 34, {"nik_duplicate", "nik_sex", "nik_age"}),  # the head's own NIK
]


@pytest.mark.parametrize("nik, sex, age, broken", CASES)
def test_nik_boundaries(nik, sex, age, broken):
    fam, mem = hand_made_family()
    mem.loc[1, ["nik", "sex", "age"]] = [nik, sex, age]
    res = validate_records(fam, mem, reference_date=REF)
    q = res.quarantine
    rules = set(q[(q.table == "members") & (q.row == 1)].rule) & NIK_RULES
    assert rules == broken
    assert res.families.empty == bool(broken)  # a family with a bad member is quarantined whole
