"""BatchSummary: what a scored batch amounts to, added up over its chunks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..records.lineage import add_fingerprint_counts, data_fingerprint, fingerprint_counts


@dataclass
class BatchSummary:
    """What a scored batch amounts to, added up over its chunks (what `tracking.log_scoring` records).

    Attributes
    ----------
    n_read, quarantined : dict
        Input rows and quarantined rows per table.
    n_scored : int
    rules : dict
        Problems per quarantine rule.
    fingerprint : dict
        `fingerprint_counts` of the valid records.
    bins : dict
        Feature -> counts in the model's training bins, for drift.
    evidence : dict
        The evidence tables that went in (``registry_records``, ``community_reports``): SHA-256 of
        the file, rows read and quarantined, records linked per source and method, reports per kind
        (never the records).
    outputs : list of Path
        Files written, and ``scores_path`` the scores folder, once the batch is published.
    """

    n_read: dict = field(default_factory=lambda: {"families": 0, "members": 0})
    quarantined: dict = field(default_factory=lambda: {"families": 0, "members": 0})
    n_scored: int = 0
    rules: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)
    bins: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    scores_path: Path | None = None

    @classmethod
    def of(cls, model, result) -> BatchSummary:
        """Summary of one `ScoreResult`."""
        res = result.validation
        rows = res.quarantine.drop_duplicates(["table", "row"])["table"].value_counts()
        X = result.features
        return cls(
            n_read=dict(res.n_read),
            quarantined={t: int(rows.get(t, 0)) for t in ("families", "members")},
            n_scored=len(result.scores),
            rules={str(k): int(v) for k, v in res.rule_counts().items()},
            fingerprint=fingerprint_counts(res.families, res.members) if len(res.families) else {},
            bins={} if X is None else {k: v.tolist() for k, v in model.bin_counts(X).items()},
        )

    def __add__(self, other: BatchSummary) -> BatchSummary:
        def add(a: dict, b: dict) -> dict:
            return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}

        return BatchSummary(
            n_read=add(self.n_read, other.n_read),
            quarantined=add(self.quarantined, other.quarantined),
            n_scored=self.n_scored + other.n_scored,
            rules=dict(Counter(self.rules) + Counter(other.rules)),
            fingerprint=add_fingerprint_counts(self.fingerprint, other.fingerprint),
            bins={
                k: np.add(self.bins.get(k, 0), other.bins.get(k, 0)).tolist()
                for k in sorted(self.bins.keys() | other.bins.keys())
            },
        )

    def summary(self) -> pd.DataFrame:
        """Rows read, valid and quarantined per table (as `ValidationResult.summary`)."""
        t = ["families", "members"]
        read = pd.Series(self.n_read).reindex(t, fill_value=0)
        q = pd.Series(self.quarantined).reindex(t, fill_value=0)
        return pd.DataFrame({"read": read, "valid": read - q, "quarantined": q})

    def rule_counts(self) -> pd.Series:
        """Problems per rule, most frequent first (as `ValidationResult.rule_counts`)."""
        return pd.Series(self.rules, dtype="int64").sort_values(ascending=False, kind="stable")

    def drift(self, model) -> pd.DataFrame:
        """Feature drift of the batch against training (`TargetingModel.drift`)."""
        if not self.bins:
            return pd.DataFrame(columns=["feature", "psi", "shifted"])
        return model.drift(counts={k: np.asarray(v) for k, v in self.bins.items()})

    def data_fingerprint(self) -> dict:
        """`data_fingerprint` of the batch's valid records."""
        return data_fingerprint(counts=self.fingerprint) if self.fingerprint else {}

    def to_dict(self) -> dict:
        return {
            "read": self.n_read,
            "scored": self.n_scored,
            "quarantined_rows": self.quarantined,
            "problems_by_rule": self.rules,
            "input": self.data_fingerprint(),
            **self.evidence,
        }
