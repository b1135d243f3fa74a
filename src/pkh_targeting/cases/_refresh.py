"""The next round: a new scored batch against the ledger (`refresh`), and counts per state and village
(`status`).

A removal is applied when the new batch no longer has the family as a beneficiary (or no longer has
it), an addition when it does; data corrections cannot be seen in the scores and stay proposed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ..modeling import candidates
from ..scoring import read_scores
from ._rounds import _SCORED, _plain, _scores_sha
from ._state import STATES
from ._store import Ledger, recorder, row_key
from ._views import case_table

CHANGES = ("applied", "not_applied", "flagged_again_after_keep", "flag_resolved", "new_flag")


@dataclass
class Refreshed:
    """What a new batch shows: per case (``family_id, village_code, change, rounds_not_applied``),
    per village (a column per change), and the totals."""

    cases: pd.DataFrame
    by_village: pd.DataFrame
    summary: dict


def _changes(t: pd.DataFrame, now: pd.DataFrame, flag_at: float) -> pd.DataFrame:
    """The change each case shows in the new batch (none: left out)."""
    status = t["family_id"].map(now["receives_pkh"]).astype("boolean")
    score = t["family_id"].map(now["error_score"])
    pending = t["state"].isin(["proposed", "not_applied"]) & t["decision"].isin(["remove", "add"])
    applied = ((t["decision"] == "remove") & (status.isna() | ~status)) | ((t["decision"] == "add") & status)
    applied = applied.fillna(False).astype(bool)
    change = pd.Series(None, index=t.index, dtype=object)
    change[pending & applied] = "applied"
    change[pending & ~applied] = "not_applied"
    kept = t["decision"].eq("keep") & t["settled_on"].notna()
    change[change.isna() & kept & (score >= flag_at)] = "flagged_again_after_keep"
    was_flagged = t["error_score"] >= flag_at
    change[change.isna() & ~kept & was_flagged & ((score < flag_at) | score.isna())] = "flag_resolved"
    return pd.DataFrame({"family_id": t["family_id"], "village_code": t["village_code"], "change": change})


def _events(t: pd.DataFrame, changes: pd.DataFrame, now: pd.DataFrame, sha: str, source: str, on, by) -> pd.DataFrame:
    """``scored`` events of the cases in the batch, and ``applied``/``not_applied`` of pending decisions."""
    common = {"round_id": None, "occurred_on": on, "recorded_by": by, "source": source, "source_sha256": sha}
    rows = []
    for fid, row in now[now.index.isin(t["family_id"])].iterrows():
        data = {k: _plain(row.get(k)) for k in _SCORED + ["model_version", "rules_version"]}
        rows.append({**common, "key": row_key("scored", fid, sha), "family_id": fid, "kind": "scored",
                     "value": row["error_type"], "source_row": fid, "data": data})  # fmt: skip
    for r in changes[changes["change"].isin(["applied", "not_applied"])].itertuples():
        rows.append({**common, "key": row_key(r.change, r.family_id, sha), "family_id": r.family_id,
                     "kind": r.change, "value": None, "source_row": r.family_id, "data": {}})  # fmt: skip
    return pd.DataFrame(rows)


def refresh(ledger: Ledger, scores, *, flag_at: float = 0.5, on=None, recorded_by: str | None = None) -> Refreshed:
    """Compare a new scored batch with the ledger: decisions the registry applied, decisions still not
    applied (``rounds_not_applied``: in how many batches), families flagged again (error score at least
    ``flag_at``) after a "keep", flags resolved, and new flags (candidates flagged that have no case).
    Records what the batch shows (``scored``, ``applied``, ``not_applied``); the same batch twice adds nothing."""
    s = scores if isinstance(scores, pd.DataFrame) else read_scores(scores)
    now = s.drop_duplicates("family_id").set_index("family_id")
    on, sha = pd.Timestamp(on or dt.date.today()).date(), _scores_sha(scores)
    t = case_table(ledger, before_source=sha)  # the same batch again: the same answer
    changes = _changes(t, now, flag_at) if len(t) else pd.DataFrame(columns=["family_id", "village_code", "change"])
    source = "scores" if isinstance(scores, pd.DataFrame) else str(getattr(scores, "name", scores))
    ledger.add_events(_events(t, changes, now, sha, source, on, recorder(recorded_by)))
    not_applied = ledger.events(changes["family_id"]).query("kind == 'not_applied'").groupby("family_id").size()
    changes["rounds_not_applied"] = changes["family_id"].map(not_applied).fillna(0).astype(int)
    c = candidates(s)
    new = c[(c["error_score"] >= flag_at) & ~c["family_id"].isin(t["family_id"] if len(t) else [])]
    flagged = pd.concat([changes, pd.DataFrame({"village_code": new["village_code"], "change": "new_flag"})])
    by_village = (
        pd.crosstab(flagged["village_code"], flagged["change"]).reindex(columns=list(CHANGES), fill_value=0)
        if flagged["change"].notna().any()
        else pd.DataFrame(columns=list(CHANGES))
    )
    summary = {k: int(by_village[k].sum()) for k in CHANGES}
    summary["not_applied_two_rounds_or_more"] = int((changes["rounds_not_applied"] >= 2).sum())
    cases = changes[changes["change"].notna()].reset_index(drop=True)
    return Refreshed(cases, by_village.reset_index(), summary)


def status(ledger: Ledger) -> pd.DataFrame:
    """Cases per village (rows) and state (columns), with totals."""
    t = case_table(ledger)
    if not len(t):
        return pd.DataFrame(columns=["village_code", *STATES, "total"])
    table = pd.crosstab(t["village_code"], t["state"]).reindex(columns=list(STATES), fill_value=0)
    table = table.loc[:, table.sum() > 0]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum()
    return table.reset_index()
