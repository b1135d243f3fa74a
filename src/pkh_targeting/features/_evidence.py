"""Evidence features: what the linked records of other registries say about each family.

Per source seen in training: members matched (each counted by its match probability), the highest
match probability, the source's value where it has one (the largest: wage, VA, vehicles, deposits,
months without a withdrawal) and the age of the latest record in days; for PLN, the connection's VA
less the registry's. No value is judged here: the classifier learns what each is worth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.contract import evidence_contract
from ..records.keys import positions

VALUED = ("formal_wage", "electricity", "vehicle", "gambling", "dormant_account")


def evidence_concept(source: str) -> str:
    """The concept (reason) all features of one source fold into."""
    return f"evidence: {source}"


class EvidenceFeatures:
    """Family features from links (`pkh_targeting.linkage.link_records`); fitted on the training links."""

    def fit(self, links: pd.DataFrame) -> EvidenceFeatures:
        sources = evidence_contract()["registry_records"].columns["source"].codes
        seen = set(links.loc[links["family_id"].notna(), "source"].astype(str))
        self.sources_ = [s for s in sources if s in seen]
        self.feature_names_out_ = [name for s in self.sources_ for name in _names(s)]
        return self

    @property
    def concepts(self) -> dict:
        """Feature -> concept."""
        return {name: evidence_concept(s) for s in self.sources_ for name in _names(s)}

    def transform(self, links: pd.DataFrame | None, families: pd.DataFrame, reference_date) -> pd.DataFrame:
        """Features of ``families`` (their row order); all unknown (NaN) when ``links`` is None."""
        out = pd.DataFrame(np.nan, index=range(len(families)), columns=self.feature_names_out_, dtype=np.float32)
        if links is None:
            return out
        linked = links[links["family_id"].notna()]
        at = positions(linked["family_id"], pd.Index(families["family_id"]))
        linked, at = linked[at >= 0], at[at >= 0]
        ref = pd.Timestamp(reference_date)
        registry_va = (
            families["electricity_va"].to_numpy(dtype="float64", na_value=0.0) if "electricity_va" in families else 0.0
        )
        for s in self.sources_:
            mask = (linked["source"] == s).to_numpy()
            rows, rec = at[mask], linked[mask]
            p = rec["match_probability"].to_numpy(dtype="float64")
            per_member = (
                pd.DataFrame({"row": rows, "m": rec["member_no"].to_numpy(), "p": p}).groupby(["row", "m"])["p"].max()
            )
            out[f"ev_{s}_members"] = np.bincount(
                per_member.index.get_level_values(0), per_member.to_numpy(), len(families)
            )
            out[f"ev_{s}_p"] = _max_by(rows, p, len(families), 0.0)
            age = (ref - pd.to_datetime(rec["as_of"])).dt.days.to_numpy(dtype="float64")
            out[f"ev_{s}_age_days"] = _max_by(rows, -age, len(families), -np.inf) * -1
            if s in VALUED:
                out[f"ev_{s}_value"] = _max_by(rows, rec["value"].to_numpy(dtype="float64"), len(families), np.nan)
            if s == "electricity":
                out["ev_electricity_va_gap"] = out["ev_electricity_value"].to_numpy() - registry_va
        return out.replace([np.inf, -np.inf], np.nan).astype(np.float32)


def _names(source: str) -> list[str]:
    names = [f"ev_{source}_members", f"ev_{source}_p", f"ev_{source}_age_days"]
    if source in VALUED:
        names.append(f"ev_{source}_value")
    if source == "electricity":
        names.append("ev_electricity_va_gap")
    return names


def _max_by(rows: np.ndarray, values: np.ndarray, n: int, empty: float) -> np.ndarray:
    """Largest of ``values`` per row (NaN values ignored), ``empty`` where a row has none."""
    out = np.full(n, -np.inf)
    ok = ~np.isnan(values)
    np.maximum.at(out, rows[ok], values[ok])
    return np.where(np.isneginf(out), empty, out)
