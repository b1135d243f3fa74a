"""Rounds: a listing recorded in the ledger, leaving out the families a recent visit or decision has
settled, unless new evidence has arrived since (a linked registry record, a community report, a
change of PKH status)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..records import read_records_of
from ..records.lineage import file_sha256
from ..rules import load_rules
from ..scoring import LINKS, REPORTS, read_manifest, read_scores
from ..verification import Lists, make_lists
from ._state import case_states
from ._store import Ledger, content_sha256, recorder, row_key

# what the ledger keeps of a family besides the scores' region codes: what the lists carry
CASE_FIELDS = ["head_name", "address", "province_name", "regency_name", "district_name", "village_name"]
_SCORED = ["receives_pkh", "error_type", "error_score", "p_eligible", "n_components", "benefit_rp", "reasons"]
_LISTED = ["rank", "audit", "explore", "selection_probability", "unit", "expected_value_rp"]


@dataclass
class ListedRound:
    """A round recorded in the ledger: its id and label, the lists written, and the settled families
    left out (``family_id, basis, settled_on``) or listed again because of new evidence."""

    id: int
    label: str
    lists: Lists
    left_out: pd.DataFrame
    relisted: pd.DataFrame


def settled_families(
    states: pd.DataFrame, scores: pd.DataFrame, as_of, cool_off_months: int, *, links=None, reports=None
) -> pd.DataFrame:
    """Cases settled within ``cool_off_months`` before ``as_of``: ``family_id, basis, settled_on,
    new_evidence`` (what arrived since: "status", "registry record", "community report"; None if
    nothing did, and the family is left out)."""
    since = pd.Timestamp(as_of) - pd.DateOffset(months=cool_off_months)
    s = states[states["settled_on"].notna()].copy()
    s = s[pd.to_datetime(s["settled_on"]) > since]
    now = scores.set_index("family_id")["receives_pkh"]
    new = pd.Series(None, index=s.index, dtype=object)
    status = s["family_id"].map(now).astype("boolean")
    # a change of status is news, unless it is the office's own decision applied
    applied = ((s["decision"] == "remove") & ~status) | ((s["decision"] == "add") & status)
    changed = status.notna() & (status != s["receives_pkh"].astype("boolean")) & ~applied.fillna(False)
    new[changed.to_numpy()] = "status"
    for what, table, date, kept in (
        ("registry record", links, "as_of", "member_no"),
        ("community report", reports, "reported_on", None),
    ):
        if table is not None and len(table):
            t = table if kept is None else table[table[kept].notna()]
            latest = pd.to_datetime(t.groupby("family_id")[date].max())
            arrived = pd.to_datetime(s["family_id"].map(latest)) > pd.to_datetime(s["settled_on"])
            new[arrived.to_numpy() & new.isna().to_numpy()] = what
    basis = s["decision_basis"].where(s["decision_basis"] != "result", "visit")
    return pd.DataFrame(
        {"family_id": s["family_id"], "basis": basis, "settled_on": s["settled_on"], "new_evidence": new}
    ).reset_index(drop=True)


def _batch_table(scores, name: str):
    path = None if isinstance(scores, pd.DataFrame) else Path(scores).parent / name
    return pd.read_parquet(path) if path is not None and path.is_file() else None


def _scores_sha(scores) -> str:
    """SHA-256 of a scored batch: of its manifest (which holds its parts' hashes), its file, or its rows."""
    if isinstance(scores, pd.DataFrame):
        return content_sha256(int(pd.util.hash_pandas_object(scores, index=False).sum()))
    return content_sha256(read_manifest(scores)) if Path(scores).is_dir() else file_sha256(scores)


def list_round(
    ledger: Ledger,
    scores,
    families,
    budget: int,
    out,
    *,
    listed_on=None,
    cool_off_months: int | None = None,
    rules=None,
    label: str | None = None,
    recorded_by: str | None = None,
    **lists,
) -> ListedRound:
    """Rank a scored batch for ``budget`` visits as `make_lists` does, leaving out the families the
    ledger holds as settled (`settled_families`), and record the listing as a round: a case for each
    listed family (and each family of the village meetings' agenda, listed as "meeting"), with a
    ``scored`` and a ``listed`` event.

    The audit sample is drawn from the families that remain, so its selection probabilities are
    exact for them. ``cool_off_months`` defaults to ``verification.cool_off_months`` of ``rules`` (a
    version or YAML path; by default the rules version the batch was scored under).
    Listing the same scores with the same settings and the same settled families on the same day
    again records nothing new.
    """
    listed_on = pd.Timestamp(listed_on or dt.date.today()).date()
    s = scores if isinstance(scores, pd.DataFrame) else read_scores(scores)
    months = cool_off_months
    if months is None:  # the rules the batch was scored under, unless others are given
        months = load_rules(rules or s["rules_version"].iloc[0]).verification.cool_off_months
    links, reports = _batch_table(scores, LINKS), _batch_table(scores, REPORTS)
    # every case the ledger holds (far fewer than a batch's families); those not in the batch are no candidates
    settled = settled_families(case_states(ledger.events()), s, listed_on, months, links=links, reports=reports)
    left_out = settled[settled["new_evidence"].isna()]
    made = make_lists(scores, families, budget, out, exclude=left_out["family_id"], **lists)
    sha = _scores_sha(scores)
    settings = {k: lists.get(k) for k in ("by", "audit_share", "inclusion_share", "priority", "explore_share", "seed")}
    listing = [sha, budget, settings, months, sorted(left_out["family_id"])]  # the same listing: the same round
    label = label or f"{listed_on:%Y%m%d}-{content_sha256(listing)[:8]}"
    round_id = _round_id(ledger, label, sha, listed_on, recorded_by, made, budget, months, left_out, lists)
    listed = made.ranked
    if made.agenda is not None:  # the village meetings' families are put in front of people too
        listed = pd.concat([listed, made.agenda.assign(list="meeting")], ignore_index=True)
    _record_listing(ledger, listed, families, round_id, listed_on, sha, scores, recorded_by)
    relisted = settled[settled["new_evidence"].notna()]
    return ListedRound(round_id, label, made, left_out.reset_index(drop=True), relisted.reset_index(drop=True))


def _round_id(ledger, label, sha, listed_on, recorded_by, made, budget, months, left_out, lists) -> int:
    """The round's id: a new one, or the same round recorded before (same label and scores)."""
    rounds = ledger.rounds()
    same = rounds[rounds["label"] == label]
    if len(same):
        if same["scores_sha256"].iloc[0] != sha:
            raise ValueError(f"round {label!r} is in the ledger already, for other scores; give another label.")
        return int(same["id"].iloc[0])
    versions = made.ranked[["model_version", "rules_version"]].astype("string")
    return ledger.add_round(
        label=label, listed_on=listed_on, recorded_by=recorder(recorded_by), scores_sha256=sha,
        model_version=";".join(sorted(versions["model_version"].dropna().unique())) or None,
        rules_version=";".join(sorted(versions["rules_version"].dropna().unique())) or None,
        budget=int(budget), unit=lists.get("by", "district_code"), seed=int(lists.get("seed", 0)),
        cool_off_months=int(months), left_out=int(len(left_out)),
    )  # fmt: skip


def _case_rows(ranked: pd.DataFrame, families) -> pd.DataFrame:
    """The listed families' region codes (from the scores), names and addresses (from the families)."""
    codes = ranked[["family_id", "province_code", "regency_code", "district_code", "village_code"]]
    codes = codes.drop_duplicates("family_id")
    if isinstance(families, pd.DataFrame):
        fam = families[families["family_id"].astype("string").isin(codes["family_id"])]
    else:
        fam = read_records_of(families, "families", codes["family_id"])
    fam = fam[["family_id", *[c for c in CASE_FIELDS if c in fam]]].astype({"family_id": "string"})
    return codes.astype({"family_id": "string"}).merge(fam.drop_duplicates("family_id"), on="family_id", how="left")


def _record_listing(ledger, ranked, families, round_id, listed_on, sha, scores, recorded_by) -> None:
    ledger.open_cases(_case_rows(ranked, families))
    source = "scores" if isinstance(scores, pd.DataFrame) else str(Path(scores).name)
    common = {
        "round_id": round_id, "occurred_on": listed_on, "recorded_by": recorder(recorded_by),
        "source": source, "source_sha256": sha,
    }  # fmt: skip
    rows = []
    for r in ranked.to_dict("records"):
        fid = r["family_id"]
        scored = {k: _plain(r.get(k)) for k in _SCORED + ["model_version", "rules_version"]}
        listed = {k: _plain(r.get(k)) for k in _LISTED}
        rows.append({**common, "key": row_key("scored", fid, sha), "family_id": fid, "kind": "scored",
                     "value": r["error_type"], "source_row": fid, "data": scored})  # fmt: skip
        rows.append({**common, "key": row_key("listed", fid, round_id, r["list"]), "family_id": fid, "kind": "listed",
                     "value": r["list"], "source_row": fid, "data": listed})  # fmt: skip
    ledger.add_events(pd.DataFrame(rows))


def _plain(value):
    """A JSON-able Python value (None for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
