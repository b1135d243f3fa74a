"""A scored batch: the scored-batch contract's table, with reasons for the families that need them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..explain import Explainer
from ..records import ValidationResult, scores_contract
from ..records.evidence import EvidenceResult
from ._linked import LinkedEvidence
from ._reach import reachable

REGION_COLUMNS = ("province_code", "regency_code", "district_code", "village_code")


@dataclass
class ScoreResult:
    """Scores of the valid families (scored-batch contract) and the quarantine of the others;
    ``features`` is the model's feature matrix of the scored families (for drift); ``evidence`` the
    batch's linked registry records and ``reports`` its validated community reports, if any."""

    scores: pd.DataFrame
    quarantine: pd.DataFrame
    validation: ValidationResult
    features: pd.DataFrame | None = None
    evidence: LinkedEvidence | None = None
    reports: EvidenceResult | None = None


def scores_frame(model, fam, comps, p, X, reasons: str, share: float, language: str) -> pd.DataFrame:
    """The scored-batch table of validated families ``fam``, their components and ``p_eligible``."""
    receives = fam["receives_pkh"].to_numpy(dtype=bool)
    scores = pd.DataFrame({c: fam[c] for c in ("family_id", *REGION_COLUMNS, "receives_pkh")})
    scores["n_components"] = comps["n_components"].to_numpy()
    scores["benefit_rp"] = comps["benefit_rp"].to_numpy()
    scores["p_eligible"] = p
    scores["error_type"] = np.where(receives, "inclusion", "exclusion")
    scores["error_score"] = np.where(receives, 1 - p, p)
    if reasons == "none":
        need = np.zeros(len(scores), bool)
    else:
        need = np.ones(len(scores), bool) if reasons == "all" else reachable(scores, share)
    scores["reasons"] = _reasons(model, X, fam, receives, comps, need, language)
    scores["model_version"] = model.model_version
    scores["rules_version"] = model.rules_.version
    contract = scores_contract()
    return scores[list(contract.columns)].astype(contract.dtypes)


def _reasons(model, X, fam, receives, comps, need: np.ndarray, language: str) -> pd.Series:
    out = pd.Series(pd.NA, index=range(len(fam)), dtype="string")
    rows = np.flatnonzero(need)
    if len(rows):
        explainer = Explainer(model, language=language)
        by_rule = {k: comps[k].to_numpy()[rows] for k in ("component_died", "excluded")}
        has = comps["has_component"].to_numpy()[rows]
        out.iloc[rows] = explainer.reasons(
            X.iloc[rows], fam.iloc[rows], receives[rows], has, by_rule=by_rule
        ).to_numpy()
    return out
