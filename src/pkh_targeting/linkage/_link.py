"""`link_records`: records of other registries linked to the registry's members, each exactly once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..records import validate_records
from ..records.evidence import validate_evidence
from ..records.keys import positions
from . import _splink
from ._prepare import member_side, record_side

LINK_COLUMNS = ["record_id", "source", "family_id", "member_no", "match_probability", "method", "value", "as_of"]
METHODS = ("nik_exact", "probabilistic")


@dataclass
class RecordLinker:
    """Links registry records (evidence contract) to members: exact NIK first, then Fellegi-Sunter.

    Parameters
    ----------
    min_probability : float, default=0.8
        A probabilistic candidate below this is no link (the record's best probability is kept).
    seed : int, default=0
        Seed of Splink's random sampling of pairs: the same data and seed give the same model.
    engine : {"duckdb", "spark"}, default="duckdb"
    spark_master : str, optional
        Spark master URL (``engine="spark"``); a local session by default.
    """

    min_probability: float = 0.8
    seed: int = 0
    engine: str = "duckdb"
    spark_master: str | None = None
    model_: dict | None = field(default=None, repr=False)

    def _engine_kw(self) -> dict:
        return {"spark_master": self.spark_master} if self.engine == "spark" else {}

    def fit(
        self, members: pd.DataFrame, families: pd.DataFrame, records: pd.DataFrame, *, reference_date
    ) -> RecordLinker:
        """Estimate the linkage parameters (Splink EM) on validated members, families and records."""
        left, right = member_side(members, families, reference_date), record_side(records)
        self.model_ = _splink.train(left, right, seed=self.seed, engine=self.engine, **self._engine_kw())
        return self

    def link(
        self, members: pd.DataFrame, families: pd.DataFrame, records: pd.DataFrame, *, reference_date
    ) -> pd.DataFrame:
        """One row per record (`LINK_COLUMNS`), in the records' order; ``family_id`` and ``member_no``
        null where no member matches."""
        if self.model_ is None:
            raise RuntimeError("the linker is not fitted: call fit() first, or load a trained model.")
        left, right = member_side(members, families, reference_date), record_side(records)
        best = _exact_nik(left, right)
        todo = np.flatnonzero(best["method"].isna().to_numpy())
        pairs = _splink.predict(self.model_, left, right.iloc[todo], engine=self.engine, **self._engine_kw())
        pairs = pairs.sort_values(["match_probability", "unique_id_l"], ascending=[False, True], kind="stable")
        pairs = pairs.drop_duplicates("unique_id_r")
        at = positions(pairs["unique_id_r"], pd.Index(right["unique_id"]))
        prob = np.zeros(len(right))
        prob[at] = pairs["match_probability"].to_numpy()
        member = np.full(len(right), None, dtype=object)
        member[at] = pairs["unique_id_l"].to_numpy(dtype=object)
        rest = np.zeros(len(right), bool)
        rest[todo] = True
        best.loc[rest, "match_probability"] = prob[rest]
        best.loc[rest, "method"] = "probabilistic"
        best.loc[rest, "member"] = np.where(prob[rest] >= self.min_probability, member[rest], None)
        return _links(best, records)

    def to_json(self) -> str:
        """The linker and its trained Splink model as JSON (no pickle)."""
        params = {k: getattr(self, k) for k in ("min_probability", "seed", "engine", "spark_master")}
        return json.dumps({"params": params, "splink_model": self.model_}, indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> RecordLinker:
        raw = json.loads(text)
        return cls(**raw["params"], model_=raw["splink_model"])


def _exact_nik(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Records whose NIK is a member's: linked at probability 1, unless both the name's initials and
    the birth date disagree (a typo that made another member's NIK): those go to the Fellegi-Sunter stage."""
    members = left.dropna(subset=["nik"]).drop_duplicates("nik", keep=False).set_index("nik")
    other = members.reindex(right["nik"])

    def differs(col):
        a, b = pd.Series(other[col].to_numpy()), pd.Series(right[col].to_numpy())
        return (a != b).fillna(False).to_numpy(dtype=bool)  # missing on either side: no disagreement

    member = pd.Series(other["unique_id"].to_numpy(), index=right.index)
    hit = member.notna().to_numpy() & ~(differs("name_key") & differs("birth_date"))
    return pd.DataFrame(
        {
            "member": member.astype(object).where(hit, None),
            "match_probability": np.where(hit, 1.0, np.nan),
            "method": np.where(hit, "nik_exact", None),
        }
    )


def _links(best: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    member = pd.Series(best["member"].to_numpy(), dtype="string")
    split = member.str.rsplit("#", n=1)
    return pd.DataFrame(
        {
            "record_id": pd.array(records["record_id"].to_numpy(dtype=object), dtype="string"),
            "source": pd.array(records["source"].to_numpy(dtype=object), dtype="string"),
            "family_id": split.str[0].astype("string"),
            "member_no": pd.to_numeric(split.str[1]).astype("Int64"),
            "match_probability": best["match_probability"].to_numpy(dtype="float64"),
            "method": pd.Series(best["method"].to_numpy(), dtype="string"),
            "value": records["value"].to_numpy(dtype="float64"),
            "as_of": records["as_of"].to_numpy(),
        }
    )


@dataclass
class LinkResult:
    """`link_records`' outcome: ``links`` (one row per valid record), the evidence ``quarantine``
    and the fitted ``linker``."""

    links: pd.DataFrame
    quarantine: pd.DataFrame
    linker: RecordLinker
    n_read: int = 0

    def summary(self) -> pd.DataFrame:
        """Records and links per source and method."""
        links = self.links.assign(linked=self.links["family_id"].notna())
        out = links.groupby(["source", "method"], observed=True).agg(
            records=("record_id", "size"), linked=("linked", "sum"), mean_probability=("match_probability", "mean")
        )
        return out.reset_index().round({"mean_probability": 3})


def link_records(
    members,
    families,
    registry_records,
    *,
    linker: RecordLinker | None = None,
    reference_date=None,
    **linker_params,
) -> LinkResult:
    """Link records of other registries (evidence contract, ``registry_records``) to members.

    Validates the three tables (invalid families and records go to the quarantine), links by exact
    NIK and then probabilistically (`RecordLinker`, trained here unless ``linker`` is a fitted one).

    Returns
    -------
    LinkResult
        ``.links``: every valid record once (`LINK_COLUMNS`); ``.quarantine``: the records that
        failed the contract, with their reasons; ``.summary()`` per source and method.
    """
    households = validate_records(families, members, reference_date=reference_date)
    evidence = validate_evidence(registry_records, "registry_records", reference_date=reference_date)
    ref = pd.Timestamp(reference_date or pd.Timestamp.today()).date()
    fam, mem, rec = households.families, households.members, evidence.valid
    if linker is None:
        linker = RecordLinker(**linker_params).fit(mem, fam, rec, reference_date=ref)
    links = linker.link(mem, fam, rec, reference_date=ref)
    return LinkResult(links, evidence.quarantine, linker, evidence.n_read)
