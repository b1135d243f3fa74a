"""Decisions on cases, from a returned Excel or CSV sheet or from Python: the office's (``decided``)
or a village meeting's (``discussed``). Words are read in Indonesian or English."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..exceptions import SchemaError
from ..records.keys import normalize_text
from ..records.lineage import file_sha256
from ..verification import MEETING_DECISION, csv_cells
from ._state import DECISIONS
from ._store import Ledger, content_sha256, recorder, row_key

# a meeting keeps (tetap), drops (keluarkan), proposes (usulkan) or defers (tunda); an office may also
# correct the data (perbaiki)
DECISION_WORDS = {
    **{d: d for d in DECISIONS},
    "tetap": "keep", "keluarkan": "remove", "usulkan": "add", "perbaiki": "update", "perbaikan data": "update",
    "tunda": "defer",
}  # fmt: skip
# the columns of a decisions sheet, in either language
DECISION_HEADERS = {
    "family_id": ("ID keluarga", "Family ID"),
    "decision": ("Keputusan", "Decision"),
    "grounds": ("Dasar keputusan", "Grounds"),
    "decided_by": ("Diputuskan oleh", "Decided by"),
    "decided_on": ("Tanggal keputusan", "Date"),
    "meeting": ("Musyawarah desa", "Village meeting"),
}
_YES = {"ya", "yes", "true", "1", "y"}


def _read_sheet(path: Path) -> pd.DataFrame:
    """The decisions of a sheet (Excel, every sheet with a family ID column; or CSV) with canonical
    columns and ``row``, the spreadsheet row; the meeting sheets `rank --meeting` writes are read too
    (notes above the header, and a meeting decision column: their decisions are the meeting's)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raws = pd.read_excel(path, sheet_name=None, header=None, dtype=object).values()
    else:
        raws = [csv_cells(path)]
    ids, meeting = set(DECISION_HEADERS["family_id"]), set(MEETING_DECISION.values())
    names = {h: canon for canon, headers in DECISION_HEADERS.items() for h in (*headers, canon)}
    frames = []
    for raw in raws:
        at = next((i for i in range(min(len(raw), 20)) if ids & {str(v).strip() for v in raw.iloc[i]}), None)
        if at is None:
            continue
        body = raw.iloc[at + 1 :].set_axis([str(v).strip() for v in raw.iloc[at]], axis=1)
        if meeting & set(body.columns):
            body = body.rename(columns=dict.fromkeys(meeting, "decision")).assign(meeting="ya")
        body = body.rename(columns=names)
        frames.append(body[[c for c in DECISION_HEADERS if c in body]].assign(row=body.index + 1))
    if not frames:
        raise SchemaError(f"{path}: no sheet with a family ID column ({' / '.join(DECISION_HEADERS['family_id'])}).")
    return pd.concat(frames, ignore_index=True).dropna(subset=["family_id"])


def decision_events(decisions: pd.DataFrame, source: str, sha: str | None, recorded_by: str) -> pd.DataFrame:
    """Ledger events of ``decisions`` (columns ``family_id, decision`` and optionally ``grounds,
    decided_by, decided_on, meeting``); a word that is no decision raises `SchemaError` with its row."""
    d = decisions.reset_index(drop=True)
    if "decision" not in d:
        raise SchemaError(f"{source}: no decision column ({' / '.join(DECISION_HEADERS['decision'])}).")
    words = d["decision"].astype("string").str.strip().str.lower().map(DECISION_WORDS)
    bad = d["decision"].notna() & words.isna()
    if bad.any():
        rows = [f"row {_row(d, i)}: {d['decision'][i]!r}" for i in d.index[bad][:5]]
        raise SchemaError(
            f"{source}: column 'decision': not a decision ({', '.join(rows)}); use one of {', '.join(DECISION_WORDS)}."
        )
    d = d.assign(decision=words, family_id=normalize_text(d["family_id"].astype("string")))[words.notna()]
    meeting = d["meeting"].astype("string").str.lower().isin(_YES) if "meeting" in d else pd.Series(False, d.index)
    on = pd.to_datetime(d.get("decided_on"), errors="coerce", dayfirst=True) if "decided_on" in d else None
    rows = []
    for i, r in d.iterrows():
        kind = "discussed" if meeting[i] else "decided"
        data = {"grounds": _text(r.get("grounds")), "decided_by": _text(r.get("decided_by")) or recorded_by}
        when = on[i].date() if on is not None and pd.notna(on[i]) else dt.date.today()
        key_source = sha or content_sha256([r["family_id"], r["decision"], data, kind, when])  # from Python
        rows.append({
            "key": row_key(kind, r["family_id"], key_source, i), "family_id": r["family_id"], "kind": kind,
            "value": r["decision"], "round_id": None, "occurred_on": when,
            "recorded_by": recorded_by, "source": source, "source_sha256": key_source, "source_row": str(_row(d, i)),
            "data": data,
        })  # fmt: skip
    return pd.DataFrame(rows)


def _row(d: pd.DataFrame, i) -> int:
    """The spreadsheet row of ``d``'s row ``i`` (a header in row 1 where the sheet does not say)."""
    return int(d["row"][i]) if "row" in d else i + 2


def _text(value):
    return None if value is None or pd.isna(value) or str(value).strip() == "" else str(value).strip()


def record_decisions(ledger: Ledger, decisions, *, recorded_by: str | None = None) -> int:
    """Record decisions from a sheet (path) or a DataFrame (see `decision_events`) in ``ledger``;
    returns how many were new. Every family must have a case."""
    by = recorder(recorded_by)
    if isinstance(decisions, pd.DataFrame):
        events = decision_events(decisions, "python", None, by)
    else:
        path = Path(decisions)
        events = decision_events(_read_sheet(path), path.name, file_sha256(path), by)
    if not len(events):
        return 0
    unknown = sorted(set(events["family_id"]) - set(ledger.cases(events["family_id"])["family_id"]))
    if unknown:
        raise SchemaError(f"decisions for families without a case in the ledger: {', '.join(unknown[:10])}.")
    return ledger.add_events(events)


def decide(ledger: Ledger, family_id: str, decision: str, *, by: str, grounds: str, on=None, meeting=False) -> int:
    """Record one decision (a village meeting's with ``meeting=True``) on a case; returns 1 if it was new."""
    row = {"family_id": family_id, "decision": decision, "grounds": grounds, "decided_by": by,
           "decided_on": on, "meeting": "yes" if meeting else "no"}  # fmt: skip
    return record_decisions(ledger, pd.DataFrame([row]), recorded_by=by)
