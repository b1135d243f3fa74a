"""Field results into the ledger: every visit of every returned list or form export, once.

Each visit is an event keyed by its source: a list's file (SHA-256) and sheet row, or a form
submission's instance ID with its review state (a later export that approves a submission held back
adds the approval; the same export again adds nothing). Results that disagree are not decided here:
they become conflicts (`pkh_targeting.cases.case_state`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..records.lineage import file_sha256
from ..verification import bad_results, read_result_files
from ._state import RESULTS, case_states
from ._store import EVENT_COLUMNS, Ledger, recorder, row_key

_VISIT_DATA = ["result_raw", "language", "photo", "latitude", "longitude", "location", "officer", "witness",
               "grounds", "new_address", "minutes", "review_state", "instance_id", "submitted"]  # fmt: skip


@dataclass
class RecordedResults:
    """What an import did: events new to the ledger, visits it already held, results of families it has
    no case for (not recorded), results not understood, and the conflicts the ledger now holds."""

    new: int
    already_recorded: int
    unknown_families: pd.DataFrame
    bad: pd.DataFrame
    conflicts: pd.DataFrame
    unreadable: list  # files that could not be read (``file, problem``), skipped


def _visit_date(rows: pd.DataFrame, fallback: dt.date) -> list:
    """The visit's date: the one the team wrote, else the submission's, else ``fallback``."""
    date = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns, UTC]")
    for col in ("visit_date", "submitted"):
        if col in rows:
            parsed = pd.to_datetime(rows[col], errors="coerce", utc=True, dayfirst=col == "visit_date", format="mixed")
            date = date.fillna(parsed.astype("datetime64[ns, UTC]"))
    return [d.date() if pd.notna(d) else fallback for d in date]


def visit_events(results: pd.DataFrame, source: str, sha: str, recorded_by: str, today: dt.date) -> pd.DataFrame:
    """Ledger events of the visits in ``results`` (`read_results` of one file) whose result is understood."""
    ok = results[results["result"].isin(RESULTS)]
    if not len(ok):
        return pd.DataFrame()
    data = [
        {k: (None if pd.isna(r.get(k)) else str(r.get(k))) for k in _VISIT_DATA if k in r}
        for r in ok.to_dict("records")
    ]
    keys = [
        row_key("visited", r["family_id"], d["instance_id"], d.get("review_state"), r["result"])
        if d.get("instance_id")
        else row_key("visited", r["family_id"], sha, r["source_row"])
        for r, d in zip(ok.to_dict("records"), data)
    ]
    return pd.DataFrame(
        {
            "key": keys, "family_id": ok["family_id"].to_numpy(), "kind": "visited", "value": ok["result"].to_numpy(),
            "round_id": None, "occurred_on": _visit_date(ok, today), "recorded_by": recorded_by, "source": source,
            "source_sha256": sha, "source_row": ok["source_row"].astype("string").to_numpy(), "data": data,
        }
    )  # fmt: skip


def record_results(ledger: Ledger, results, *, recorded_by: str | None = None) -> RecordedResults:
    """Record the visits of returned lists and form exports (files, or folders of them; see
    `read_results`) in ``ledger``. Importing the same file twice changes nothing; a file that cannot
    be read is skipped and named in ``unreadable``."""
    by, today = recorder(recorded_by), dt.date.today()
    events, bad = [], []
    read, unreadable = read_result_files(results)
    for path, res in read:
        bad.append(bad_results(res).assign(file=Path(path).name))
        events.append(visit_events(res, Path(path).name, file_sha256(path), by, today))
    none = pd.DataFrame(columns=[c for c in EVENT_COLUMNS if c not in ("id", "recorded_at")])
    events = pd.concat([e for e in events if len(e)] or [none])
    known = set(ledger.cases(events["family_id"])["family_id"])
    mine = events["family_id"].isin(known)
    new = ledger.add_events(events[mine])
    unknown = events.loc[~mine, ["family_id", "value", "source", "source_row"]].rename(columns={"value": "result"})
    return RecordedResults(
        new=new,
        already_recorded=int(mine.sum()) - new,
        unknown_families=unknown.reset_index(drop=True),
        bad=pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(),
        conflicts=conflicts(ledger, events.loc[mine, "family_id"]),
        unreadable=unreadable,
    )


def conflicts(ledger: Ledger, family_ids=None) -> pd.DataFrame:
    """Cases whose results disagree and await a decision: ``family_id, village_code, results``
    (each result with its source and date)."""
    states = case_states(ledger.events(family_ids))
    c = states[states["conflict"].astype(bool)] if len(states) else states
    if not len(c):
        return pd.DataFrame(columns=["family_id", "village_code", "results"])
    where = ledger.cases(c["family_id"]).set_index("family_id")["village_code"]
    described = c["conflicting"].map(lambda rs: "; ".join(f"{v} ({src}, {on})" for v, src, on in rs))
    return pd.DataFrame(
        {"family_id": c["family_id"], "village_code": c["family_id"].map(where), "results": described}
    ).reset_index(drop=True)
