"""Report features: what the community said about each family (usul, sanggah, village meetings).

Per kind of report: how many, through which channel, how many with a photo and from a reporter in
the village, and the days since the latest; per grounds given, how many. Columns come from the
contract's codes, so that every model sees the same ones. Nothing is taken at face value: the
classifier learns from verification outcomes how reliable each kind and channel is.
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
    """Family features from community reports (validated, `validate_evidence`); no state to learn."""

    def __init__(self):
        self.feature_names_out_ = list(self.concepts)

    @property
    def concepts(self) -> dict:
        """Feature -> concept."""
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
        at = positions(reports["family_id"], pd.Index(families["family_id"]))
        reports, at = reports[at >= 0], at[at >= 0]
        count = lambda mask: np.bincount(at[np.asarray(mask, bool)], minlength=n).astype(np.float32)  # noqa: E731
        kind, channel = reports["kind"].astype(str).to_numpy(), reports["channel"].astype(str).to_numpy()
        photo = reports["evidence_photo"].to_numpy(dtype=bool, na_value=False)
        local = reports["reporter_in_village"].to_numpy(dtype=bool, na_value=False)
        days = (pd.Timestamp(reference_date) - pd.to_datetime(reports["reported_on"])).dt.days.to_numpy(dtype="float64")
        out = {}
        for name in self.feature_names_out_:
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
        return pd.DataFrame(out, index=range(n))[self.feature_names_out_]
