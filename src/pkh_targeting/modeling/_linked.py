"""Records of other registries in the model: linked once, decided by rule where the rules say so
(deaths, hard exclusions), weighed by the classifier everywhere else."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ..exceptions import DataQualityWarning
from ..features import EvidenceFeatures, ReportFeatures
from ..linkage import RecordLinker
from ..records.evidence import validate_evidence
from ..records.keys import isin
from ..rules import Rules, apply_rules, evidence_rules, living_members
from ._cv import grouped_folds


@dataclass
class LinkedEvidence:
    """A batch's linked records: ``links`` (one row per valid record), the evidence ``quarantine`` and
    per table the rows ``read``."""

    links: pd.DataFrame | None
    quarantine: pd.DataFrame | None = None
    read: int = 0

    def lineage(self) -> dict:
        """What went in, for the manifest and MLflow: counts per source and method, never the records."""
        if self.links is None:
            return {}
        links = self.links.assign(linked=self.links["family_id"].notna())
        by = links.groupby(["source", "method"], observed=True)["linked"].agg(["size", "sum"])
        return {
            "records_read": int(self.read),
            "records_quarantined": int(self.quarantine["row"].nunique()) if self.quarantine is not None else 0,
            "linked": {f"{s}/{m}": {"records": int(r["size"]), "linked": int(r["sum"])} for (s, m), r in by.iterrows()},
        }


class RegistryEvidence:
    """The fitted linker and evidence features of a `TargetingModel` trained with registry records."""

    def __init__(self, linker: RecordLinker, features: EvidenceFeatures):
        self.linker, self.features = linker, features

    @classmethod
    def fit(cls, fam, mem, registry_records, reference_date, seed: int) -> tuple[RegistryEvidence, LinkedEvidence]:
        checked = validate_evidence(registry_records, "registry_records", reference_date=reference_date)
        linker = RecordLinker(seed=seed).fit(mem, fam, checked.valid, reference_date=reference_date)
        links = linker.link(mem, fam, checked.valid, reference_date=reference_date)
        return cls(linker, EvidenceFeatures().fit(links)), LinkedEvidence(links, checked.quarantine, checked.n_read)

    def link(self, fam, mem, registry_records, reference_date, links=None) -> LinkedEvidence:
        """Link a batch's records with the trained linker (or take ``links`` made already for the
        whole batch); without either, the evidence is unknown, with a warning."""
        if links is not None:
            return LinkedEvidence(links[isin(links["family_id"], pd.Index(fam["family_id"])).to_numpy()])
        if registry_records is None:
            warnings.warn(
                "the model was trained with records of other registries but none were given: their "
                "evidence is treated as unknown (pass registry_records= or --registry-records).",
                DataQualityWarning,
                stacklevel=3,
            )
            return LinkedEvidence(None)
        checked = validate_evidence(registry_records, "registry_records", reference_date=reference_date)
        out = self.linker.link(mem, fam, checked.valid, reference_date=reference_date)
        return LinkedEvidence(out, checked.quarantine, checked.n_read)

    def transform(self, links: pd.DataFrame | None, fam, reference_date) -> pd.DataFrame:
        return self.features.transform(links, fam, reference_date)

    def get_state(self) -> dict:
        return {"linker": json.loads(self.linker.to_json()), "sources": self.features.sources_}

    @classmethod
    def from_state(cls, state: dict) -> RegistryEvidence:
        features = EvidenceFeatures()
        features.sources_ = list(state["sources"])
        features.feature_names_out_ = list(features.concepts)
        return cls(RecordLinker.from_json(json.dumps(state["linker"])), features)


def components(fam: pd.DataFrame, mem: pd.DataFrame, links: pd.DataFrame | None, rules: Rules):
    """`apply_rules` of the living members, and per family whether a component died since the
    registry (Dukcapil) and whether a hard exclusion criterion applies; ``has_component`` is False
    for the excluded."""
    deceased, excluded = evidence_rules(links, rules)
    comps = apply_rules(fam, living_members(mem, deceased), rules)
    died = np.zeros(len(fam), bool)
    if len(deceased):
        died = apply_rules(fam, mem, rules)["has_component"].to_numpy() & ~comps["has_component"].to_numpy()
    out = isin(fam["family_id"], excluded).to_numpy(dtype=bool)
    comps["component_died"] = died
    comps["excluded"] = out
    comps["has_component"] = comps["has_component"].to_numpy() & ~out
    return comps


def fit_reports(community_reports, families, reference_date):
    """Report features and the validated reports, for a model trained with community reports."""
    if community_reports is None:
        return None, None
    checked = validate_evidence(
        community_reports, "community_reports", families=families, reference_date=reference_date
    )
    return ReportFeatures(), checked


def fit_report_reliability(
    X: pd.DataFrame, train: pd.DataFrame, groups, n_splits: int
) -> tuple[ReportFeatures, pd.DataFrame]:
    """How much each kind, channel, photo and local reporter says about eligibility, learned from the
    labelled families (an L2 logistic regression on ``log1p`` of the counts, beside the welfare
    estimate so that the reports are weighed for what they add to it). Returns the fitted features and
    ``X`` with their ``rep_{kind}_score``: cross-fitted by the classifier's grouped folds for the
    training rows, so that the classifier never learns from a score that saw its own label."""
    counts = ReportFeatures().counts
    rows, y, w = train["row"].to_numpy(), train["label"].to_numpy(), train["weight"].to_numpy()
    Z = np.log1p(X[counts].to_numpy(dtype=np.float64)[rows])
    if "welfare_gap" in X:
        gap = X["welfare_gap"].to_numpy(dtype=np.float64)[rows]
        Z = np.column_stack([Z, (gap - gap.mean()) / (gap.std() or 1.0)])

    def fit(idx) -> ReportFeatures:
        if len(np.unique(y[idx])) < 2:
            return ReportFeatures(dict.fromkeys(counts, 0.0))
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(Z[idx], y[idx], sample_weight=w[idx])
        return ReportFeatures({c: float(b) for c, b in zip(counts, lr.coef_[0])})

    fitted = fit(np.arange(len(rows)))
    scores = fitted.scores(X)
    for fold_train, fold_test in grouped_folds(np.asarray(groups)[rows], n_splits):
        scores.iloc[rows[fold_test]] = fit(fold_train).scores(X.iloc[rows[fold_test]]).to_numpy()
    return fitted, pd.concat([X, scores], axis=1)


def score_reports(features: ReportFeatures | None, community_reports, families, reference_date):
    """A batch's validated reports for a model trained with them; unknown, with a warning, when none
    are given (None for a model trained without)."""
    if features is None:
        return None
    if community_reports is None:
        warnings.warn(
            "the model was trained with community reports but none were given: their evidence is "
            "treated as unknown (pass community_reports= or --community-reports).",
            DataQualityWarning,
            stacklevel=3,
        )
        return None
    return validate_evidence(community_reports, "community_reports", families=families, reference_date=reference_date)
