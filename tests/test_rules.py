import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from pkh_targeting import apply_rules, load_rules
from pkh_targeting.rules import Rules, is_eligible


def members(*people):
    """Members of family A from (age, extra fields) pairs."""
    base = {
        "family_id": "A",
        "pregnant": False,
        "severe_disability": False,
        "school_participation": 3,
        "school_level": None,
        "sex": 1,
    }
    return pd.DataFrame([{**base, "age": age, **extra} for age, extra in people])


def pupil(level):
    return {"school_participation": 2, "school_level": level}


FAM = pd.DataFrame({"family_id": ["A"]})


def test_three_young_children_count_two():
    out = apply_rules(FAM, members((1, {}), (3, {}), (5, {}))).loc["A"]
    assert out.n_early_childhood == 3 and out.n_early_childhood_counted == 2
    assert out.benefit_rp == 2 * 3_000_000


def test_elderly_age_is_a_setting():
    fam = members((69, {}), (40, {}))
    assert apply_rules(FAM, fam).loc["A", "n_elderly"] == 0
    rules = load_rules().model_dump()
    rules["components"]["elderly"]["min_age"] = 60
    assert apply_rules(FAM, fam, Rules.model_validate(rules)).loc["A", "benefit_rp"] == 2_400_000


def test_pupil_older_than_21_does_not_count():
    out = apply_rules(FAM, members((22, pupil(3)), (21, pupil(3)))).loc["A"]
    assert out.n_school_sma == 1 and out.benefit_rp == 2_000_000


def test_cap_keeps_the_components_worth_most():
    fam = members((70, {}), (50, {"severe_disability": True}), (8, pupil(1)), (13, pupil(2)), (16, pupil(3)))
    out = apply_rules(FAM, fam).loc["A"]
    assert out.n_components == 4
    assert out.n_school_sd_counted == 0  # the cheapest component is the one dropped
    assert out.benefit_rp == 2_400_000 + 2_400_000 + 2_000_000 + 1_500_000


def test_cap_can_be_switched_off():
    fam = members((70, {}), (50, {"severe_disability": True}), (8, pupil(1)), (13, pupil(2)), (16, pupil(3)))
    rules = load_rules().model_copy(update={"component_cap": None})
    out = apply_rules(FAM, fam, rules).loc["A"]
    assert out.n_components == 5 and out.benefit_rp == 2_400_000 * 2 + 2_000_000 + 1_500_000 + 900_000


def test_benefits_add_up_over_families():
    fam = pd.DataFrame({"family_id": ["A", "B", "C"]})
    mem = pd.concat(
        [
            members((30, {"pregnant": True, "sex": 2}), (4, {})),
            members((75, {}), (72, {})).assign(family_id="B"),
            members((40, {})).assign(family_id="C"),
        ]
    )
    out = apply_rules(fam, mem)
    assert out.benefit_rp.tolist() == [6_000_000, 2_400_000, 0]
    assert out.has_component.tolist() == [True, True, False]
    assert out.n_elderly.tolist() == [0, 2, 0] and out.n_elderly_counted.tolist() == [0, 1, 0]


def test_a_member_counts_once_for_the_component_worth_most():
    # a pregnant 17-year-old SMA pupil counts as a pregnancy (3.0M), not also as a pupil
    out = apply_rules(FAM, members((17, {"pregnant": True, "sex": 2, **pupil(3)}))).loc["A"]
    assert out.n_pregnant_counted == 1 and out.n_school_sma_counted == 0 and out.benefit_rp == 3_000_000
    # a six-year-old already in SD counts as a pupil, not as early childhood
    out = apply_rules(FAM, members((6, pupil(1)))).loc["A"]
    assert out.n_early_childhood == 0 and out.benefit_rp == 900_000


def test_eligibility_needs_desil_and_component():
    assert is_eligible([4, 5, 1], [True, True, False]).tolist() == [True, False, False]
    coded = is_eligible([4, 4, 1], [1, 2, 0])  # component counts: any is a component
    assert coded.dtype == bool and coded.tolist() == [True, True, False]


def test_rules_reject_unknown_keys_and_are_frozen(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("version: x\ncomponents: {}\ncap: 3\n")
    with pytest.raises(ValidationError, match="cap"):
        load_rules(path)
    with pytest.raises(ValidationError):
        load_rules().desil_cutoff = 5
    with pytest.raises(ValueError, match="unknown rules version"):
        load_rules("pkh-1999")


def test_builtin_rules_match_the_domain_amounts():
    r = load_rules("pkh-2025")
    amounts = {k: c.amount_rp for k, c in r.components.items()}
    assert amounts == {
        "pregnant": 3_000_000,
        "early_childhood": 3_000_000,
        "school_sma": 2_000_000,
        "school_smp": 1_500_000,
        "school_sd": 900_000,
        "disability": 2_400_000,
        "elderly": 2_400_000,
    }
    assert (r.version, r.desil_cutoff, r.component_cap) == ("pkh-2025", 4, 4)


def test_each_criterion_at_its_boundaries_and_with_missing_answers():
    """Each member row is one case: age limits, the criterion itself, and missing answers (which
    never make a component)."""
    people = members(
        (6, {}),  # early childhood at 6 (max_age) ...
        (7, {}),  # ... not at 7
        (5, pupil(1)),  # a pupil of 5: not early childhood (a pupil), too young for SD
        (6, pupil(1)),  # SD from 6
        (30, {"pregnant": True}),
        (30, {"pregnant": pd.NA}),  # not answered: not pregnant
        (30, {"severe_disability": pd.NA}),
        (9, {"school_participation": 2, "school_level": pd.NA}),  # attending, level not given
        (8, {"school_participation": 1, "school_level": 1}),  # enrolled once, not attending
        (70, {"severe_disability": True}),  # counts for one: disability and elderly are worth the same
    )
    people["pregnant"] = people["pregnant"].astype("boolean")
    people["severe_disability"] = people["severe_disability"].astype("boolean")
    people["school_level"] = people["school_level"].astype("Int64")
    out = apply_rules(FAM, people)
    assert out.index.name == "family_id" and out.index.tolist() == ["A"]
    counts = out.loc["A", [f"n_{c}" for c in load_rules().components]].to_dict()
    assert counts == {
        "n_pregnant": 1,
        "n_early_childhood": 1,
        "n_school_sma": 0,
        "n_school_smp": 0,
        "n_school_sd": 1,
        "n_disability": 1,
        "n_elderly": 1,
    }
    assert out.loc["A", "n_disability_counted"] + out.loc["A", "n_elderly_counted"] == 1
    assert out.loc["A", "n_components"] == 4  # the cap: pregnant, early childhood, SD, disability
    ints = [c for c in out.columns if c.startswith("n_")] + ["benefit_rp"]
    assert (out[ints].dtypes == "int64").all() and out["has_component"].dtype == bool


def test_rules_from_a_file_by_either_yaml_suffix(tmp_path):
    rules = load_rules().model_dump(mode="json")
    for name in ("copy.yaml", "copy.yml"):
        (tmp_path / name).write_text(yaml.safe_dump({**rules, "version": name}), "utf-8")
        assert load_rules(tmp_path / name).version == name
    with pytest.raises(FileNotFoundError):
        load_rules(tmp_path / "missing.yaml")  # a missing file is an error, not a version name


def test_evidence_rules_and_living_members():
    from pkh_targeting.rules import evidence_rules, living_members

    rules = load_rules().model_dump()
    rules["evidence"]["exclusions"]["civil_servant"]["mode"] = "hard"
    rules = Rules.model_validate(rules)
    none = evidence_rules(None, rules)
    assert [list(i) for i in none] == [[], []] and all(i.dtype == "string" for i in none)
    assert [list(i) for i in evidence_rules(pd.DataFrame(columns=["family_id"]), rules)] == [[], []]
    links = pd.DataFrame(
        {
            "family_id": ["A", "A", "B", None, "C", "C"],
            "member_no": [1, 2, 1, 1, 1, 1],
            "source": ["death", "death", "civil_servant", "death", "civil_servant", "death"],
            "match_probability": [0.9, 0.89, 0.95, 1.0, 0.5, 0.99],
        }
    )
    dead, excluded = evidence_rules(links, rules)
    assert list(dead) == ["A#1", "C#1"] and list(excluded) == ["B"]
    people = members((30, {}), (8, {})).assign(member_no=[1, 2])
    assert living_members(people, dead).member_no.tolist() == [2]
    assert living_members(people, pd.Index([], dtype="string")) is people
