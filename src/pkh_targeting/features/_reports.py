"""Report features: what the community said about each family (usul, sanggah, village meetings).

Per kind of report: how many, through which channel, how many with a photo and from a reporter in
the village, and the days since the latest; per grounds given, how many. Columns come from the
contract's codes, so that every model sees the same ones. Nothing is taken at face value: a
reliability model learns from the labelled families (surveys, verification outcomes) what each kind,
channel, photo and reporter is worth, and gives one score per kind (`ReportFeatures.scores`), which the
classifier can split on where the sparse counts are too rare to split on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..records.contract import evidence_contract
from ..records.keys import positions

CHANNELLED = ("usul", "sanggah")  # the meetings' kinds have one channel, the meeting


def report_concept(kind: str) -> str:
    """The concept (reason) the features of one kind of report fold into."""
    return f"report: {kind}"


def _codes(column: str) -> list[str]:
    return list(evidence_contract()["community_reports"].columns[column].codes)


class ReportFeatures:
    """Family features from community reports (validated, `validate_evidence`).

    ``reliability``: log-odds of eligibility per ``log1p`` of each count (`counts`), as learned from
    labelled families (`modeling` fits it); with it, `transform` adds ``rep_{kind}_score``.
    """

    def __init__(self, reliability: dict | None = None):
        self.reliability = reliability
        self.feature_names_out_ = list(self.concepts)

    @property
    def counts(self) -> list[str]:
        """The count features of each kind that the reliability model weighs."""
        return [f for f in self._count_concepts() if f.endswith("_n") and not f.startswith("rep_grounds_")]

    @property
    def concepts(self) -> dict:
        """Feature -> concept."""
        out = self._count_concepts()
        if self.reliability is not None:
            out.update({f"rep_{kind}_score": report_concept(kind) for kind in _codes("kind")})
        return out

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per kind, the reliability model's log-odds shift of the family's reports of that kind."""
        out = {}
        for kind in _codes("kind"):
            cols = [c for c in self.counts if c.startswith(f"rep_{kind}_")]
            coef = np.array([self.reliability[c] for c in cols])
            out[f"rep_{kind}_score"] = (np.log1p(X[cols].to_numpy(dtype=np.float64)) @ coef).astype(np.float32)
        return pd.DataFrame(out, index=X.index)

    def _count_concepts(self) -> dict:
        out = {}
        for kind in _codes("kind"):
            out[f"rep_{kind}_n"] = out[f"rep_{kind}_days"] = report_concept(kind)
            if kind in CHANNELLED:
                for c in _codes("channel"):
                    if c != "musdes":
                        out[f"rep_{kind}_{c}_n"] = report_concept(kind)
                out[f"rep_{kind}_photo_n"] = out[f"rep_{kind}_in_village_n"] = report_concept(kind)
        for g in _codes("grounds"):
            out[f"rep_grounds_{g}_n"] = report_concept("grounds")
        return out

    def transform(self, reports: pd.DataFrame | None, families: pd.DataFrame, reference_date) -> pd.DataFrame:
        """Features of ``families`` (their row order); all unknown (NaN) when ``reports`` is None."""
        n = len(families)
        if reports is None:
            return pd.DataFrame(np.nan, index=range(n), columns=self.feature_names_out_, dtype=np.float32)
        counts = self._counts(reports, families, reference_date)
        return pd.concat([counts, self.scores(counts)], axis=1) if self.reliability is not None else counts

    def _counts(self, reports: pd.DataFrame, families: pd.DataFrame, reference_date) -> pd.DataFrame:
        n = len(families)
        at = positions(reports["family_id"], pd.Index(families["family_id"]))
        reports, at = reports[at >= 0], at[at >= 0]
        count = lambda mask: np.bincount(at[np.asarray(mask, bool)], minlength=n).astype(np.float32)  # noqa: E731
        kind, channel = reports["kind"].astype(str).to_numpy(), reports["channel"].astype(str).to_numpy()
        photo = reports["evidence_photo"].to_numpy(dtype=bool, na_value=False)
        local = reports["reporter_in_village"].to_numpy(dtype=bool, na_value=False)
        days = (pd.Timestamp(reference_date) - pd.to_datetime(reports["reported_on"])).dt.days.to_numpy(dtype="float64")
        out = {}
        for name in self._count_concepts():
            k = next((k for k in _codes("kind") if name.startswith(f"rep_{k}_")), None)
            if name.startswith("rep_grounds_"):
                out[name] = count(reports["grounds"].astype(str).to_numpy() == name[len("rep_grounds_") : -2])
            elif name.endswith("_days"):
                latest = np.full(n, np.inf)
                np.minimum.at(latest, at[kind == k], days[kind == k])
                out[name] = np.where(np.isinf(latest), np.nan, latest).astype(np.float32)
            elif name == f"rep_{k}_n":
                out[name] = count(kind == k)
            elif name == f"rep_{k}_photo_n":
                out[name] = count((kind == k) & photo)
            elif name == f"rep_{k}_in_village_n":
                out[name] = count((kind == k) & local)
            else:
                out[name] = count((kind == k) & (channel == name[len(f"rep_{k}_") : -2]))
        return pd.DataFrame(out, index=range(n))
