"""PKH programme rules: versioned YAML loaded into a frozen pydantic model, and `apply_rules`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .records.keys import positions

DEFAULT_RULES = "pkh-2025"


class Component(BaseModel):
    """One PKH component: who counts, what it pays per year, and how many members count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    criterion: Literal["pregnant", "age", "attending_school", "severe_disability"]
    amount_rp: int = Field(ge=0)
    limit: int | None = Field(default=None, ge=1)
    min_age: int | None = Field(default=None, ge=0)
    max_age: int | None = Field(default=None, ge=0)
    school_level: int | None = None
    exclude_pupils: bool = False


class Exclusion(BaseModel):
    """An exclusion criterion of the regulation met by a linked registry record (e.g. ASN, TNI, Polri):
    ``soft`` is evidence the classifier weighs, ``hard`` makes the family not eligible by rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    mode: Literal["soft", "hard"] = "soft"
    min_probability: float = Field(default=0.9, ge=0, le=1)


class EvidenceRules(BaseModel):
    """What linked registry records decide by rule; everything else they say, the classifier weighs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    death_match_probability: float = Field(default=0.9, ge=0, le=1)
    exclusions: dict[str, Exclusion] = Field(default_factory=dict)


class VerificationRules(BaseModel):
    """How verification rounds treat families already settled (see `pkh_targeting.cases`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cool_off_months: int = Field(default=12, ge=0)  # a visit or decision settles a family this long


class Rules(BaseModel):
    """A version of the PKH rules (see ``configs/rules/``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    desil_cutoff: int = Field(default=4, ge=1, le=10)
    component_cap: int | None = Field(default=4, ge=1)
    components: dict[str, Component]
    evidence: EvidenceRules = Field(default_factory=EvidenceRules)
    verification: VerificationRules = Field(default_factory=VerificationRules)


def load_rules(rules: str | Path | Rules = DEFAULT_RULES) -> Rules:
    """Load rules from a YAML path or a built-in version name such as ``"pkh-2025"``."""
    if isinstance(rules, Rules):
        return rules
    path = Path(rules)
    if path.suffix in (".yaml", ".yml") or path.exists():
        text, source = path.read_text("utf-8"), str(path)
    else:
        ref = resources.files("pkh_targeting.configs").joinpath("rules", f"{rules}.yaml")
        if not ref.is_file():
            known = sorted(p.name[:-5] for p in resources.files("pkh_targeting.configs").joinpath("rules").iterdir())
            raise ValueError(f"unknown rules version {rules!r}; built-in versions: {known}, or pass a YAML path.")
        text, source = ref.read_text("utf-8"), f"built-in rules {rules}"
    try:
        return Rules.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        exc.add_note(f"while reading {source}")
        raise


def _member_eligibility(members: pd.DataFrame, comp: Component) -> np.ndarray:
    age = members["age"].to_numpy()
    ok = np.ones(len(members), dtype=bool)
    if comp.min_age is not None:
        ok &= age >= comp.min_age
    if comp.max_age is not None:
        ok &= age <= comp.max_age
    attending = (members["school_participation"] == 2).to_numpy()
    if comp.criterion == "pregnant":
        ok &= members["pregnant"].to_numpy(dtype=bool, na_value=False)
    elif comp.criterion == "severe_disability":
        ok &= members["severe_disability"].to_numpy(dtype=bool, na_value=False)
    elif comp.criterion == "attending_school":
        level = members["school_level"].to_numpy(dtype="float64", na_value=np.nan)
        ok &= attending & (level == comp.school_level)
    if comp.exclude_pupils:
        ok &= ~attending
    return ok


def apply_rules(
    families: pd.DataFrame, members: pd.DataFrame, rules: str | Path | Rules = DEFAULT_RULES
) -> pd.DataFrame:
    """PKH components and yearly benefit of each family under ``rules``.

    A member counts for at most one component, the one worth most; each component counts at most
    its ``limit`` members per family; the overall ``component_cap`` keeps the components worth most.

    Parameters
    ----------
    families, members : DataFrame
        Validated records (see `validate_records`).
    rules : str, Path or Rules, default="pkh-2025"

    Returns
    -------
    DataFrame indexed by family_id with ``n_<component>`` (members qualifying, before caps),
    ``n_<component>_counted`` (after caps), ``n_components``, ``benefit_rp`` and ``has_component``.

    Examples
    --------
    >>> import pandas as pd
    >>> fam = pd.DataFrame({"family_id": ["A"]})
    >>> mem = pd.DataFrame({"family_id": ["A"] * 3, "age": [1, 3, 5], "pregnant": False,
    ...     "severe_disability": False, "school_participation": 1, "school_level": None})
    >>> apply_rules(fam, mem)[["n_early_childhood", "n_components", "benefit_rp"]]
               n_early_childhood  n_components  benefit_rp
    family_id
    A                          3             2     6000000
    """
    rules = load_rules(rules)
    comps = sorted(rules.components.items(), key=lambda kv: -kv[1].amount_rp)  # stable: YAML order on ties
    fam_ids = pd.Index(families["family_id"], name="family_id")
    codes = positions(members["family_id"], fam_ids)
    inside = codes >= 0
    taken = np.zeros(len(members), dtype=bool)
    out = pd.DataFrame(index=fam_ids)
    remaining = np.full(len(fam_ids), rules.component_cap or np.iinfo(np.int64).max, dtype=np.int64)
    n_comp = np.zeros(len(fam_ids), dtype=np.int64)
    benefit = np.zeros(len(fam_ids), dtype=np.int64)
    for name, comp in comps:
        qualifies = _member_eligibility(members, comp) & inside
        assigned = qualifies & ~taken
        taken |= assigned
        n_raw = np.bincount(codes[assigned], minlength=len(fam_ids)).astype(np.int64)
        n_qual = np.bincount(codes[qualifies], minlength=len(fam_ids)).astype(np.int64)
        counted = np.minimum(n_raw, comp.limit) if comp.limit else n_raw
        counted = np.minimum(counted, remaining)
        remaining -= counted
        out[f"n_{name}"] = n_qual
        out[f"n_{name}_counted"] = counted
        n_comp += counted
        benefit += counted * comp.amount_rp
    out = out[[f"n_{n}" for n in rules.components] + [f"n_{n}_counted" for n in rules.components]]
    out["n_components"] = n_comp
    out["benefit_rp"] = benefit
    out["has_component"] = n_comp > 0
    return out


def evidence_rules(links: pd.DataFrame | None, rules: Rules) -> tuple[pd.Index, pd.Index]:
    """Members no longer counted (matched to a death record at ``death_match_probability`` or more),
    as ``family_id#member_no`` keys; and families excluded by a hard exclusion criterion."""
    if links is None or not len(links):
        return pd.Index([], dtype="string"), pd.Index([], dtype="string")
    linked = links[links["family_id"].notna()]
    p = linked["match_probability"].to_numpy()
    dead = linked[(linked["source"] == "death").to_numpy() & (p >= rules.evidence.death_match_probability)]
    keys = pd.Index(dead["family_id"].astype("string") + "#" + dead["member_no"].astype("string")).unique()
    hard = [
        (linked["source"] == source).to_numpy() & (p >= ex.min_probability)
        for source, ex in rules.evidence.exclusions.items()
        if ex.mode == "hard"
    ]
    excluded = linked["family_id"][np.logical_or.reduce(hard)] if hard else linked["family_id"].iloc[:0]
    return keys, pd.Index(excluded.astype("string")).unique()


def living_members(members: pd.DataFrame, deceased: pd.Index) -> pd.DataFrame:
    """``members`` without those in ``deceased`` (`evidence_rules`' keys)."""
    if not len(deceased):
        return members
    keys = members["family_id"].astype("string") + "#" + members["member_no"].astype("string")
    return members[~keys.isin(deceased).to_numpy()]


def is_eligible(desil, has_component, rules: str | Path | Rules = DEFAULT_RULES):
    """PKH eligibility: national desil within the cut-off and at least one component."""
    rules = load_rules(rules)
    return (np.asarray(desil) <= rules.desil_cutoff) & np.asarray(has_component, dtype=bool)
