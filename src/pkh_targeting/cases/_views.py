"""What documents and summaries read from the ledger: each case with its state and where it lives,
a round by its label, and the words a result or a decision is written with."""

from __future__ import annotations

import pandas as pd

from ._state import case_states
from ._store import Ledger

WORDS = {
    "id": {
        "eligible": "Layak", "not eligible": "Tidak layak", "not found": "Tidak ditemukan", "moved": "Pindah",
        "keep": "Tetap", "remove": "Dikeluarkan", "add": "Diusulkan masuk", "update": "Perbaikan data",
        "defer": "Ditunda", "conflict": "Hasil berbeda, menunggu keputusan", True: "Penerima", False: "Bukan penerima",
    },
    "en": {
        "eligible": "Eligible", "not eligible": "Not eligible", "not found": "Not found", "moved": "Moved",
        "keep": "Keep", "remove": "Remove", "add": "Add", "update": "Correct data", "defer": "Deferred",
        "conflict": "Results disagree, awaiting a decision", True: "Beneficiary", False: "Not a beneficiary",
    },
}  # fmt: skip
LEVELS = ("province", "regency", "district", "village")


def case_table(ledger: Ledger, family_ids=None, *, before_source: str | None = None) -> pd.DataFrame:
    """Every case (of ``family_ids``) with its state (`case_state`) and its region codes and names;
    with ``before_source`` (a SHA-256), the state before the events recorded from that source."""
    events = ledger.events(family_ids)
    states = case_states(events[events["source_sha256"] != before_source] if before_source else events)
    return ledger.cases(states["family_id"]).merge(states, on="family_id", how="right")


def round_of(ledger: Ledger, which=None) -> dict:
    """A round by label or id; the latest without one."""
    rounds = ledger.rounds()
    if not len(rounds):
        raise ValueError("the ledger has no round yet: rank --cases records one.")
    if which is None:
        return rounds.iloc[-1].to_dict()
    hit = rounds[(rounds["label"] == str(which)) | (rounds["id"].astype(str) == str(which))]
    if not len(hit):
        raise ValueError(f"no round {which!r} in the ledger; rounds: {', '.join(rounds['label'])}.")
    return hit.iloc[0].to_dict()


def round_labels(ledger: Ledger) -> dict:
    rounds = ledger.rounds()
    return dict(zip(rounds["id"], rounds["label"]))


def minutes_number(village_code: str, round_label: str) -> str:
    """The number of a village's minutes (berita acara) for a round: what a proposal cites."""
    return f"BA-PKH/{village_code}/{round_label}"


def region_name(row, level: str) -> str:
    """A region's name where the records carry it, else its code."""
    name = row.get(f"{level}_name")
    return str(name) if name is not None and not pd.isna(name) else str(row.get(f"{level}_code") or "")


def verified_outcomes(ledger: Ledger) -> pd.DataFrame:
    """Each family's latest settled result: ``family_id, verified_eligible, verified_on, audit, explore,
    selection_probability`` (whether the visit was of the random audit or the exploration sample, and
    its selection probability; 1 for a ranked visit)."""
    t = case_table(ledger)
    v = t[t["result"].notna()]
    return pd.DataFrame(
        {
            "family_id": v["family_id"].astype("string").to_numpy(),
            "verified_eligible": (v["result"] == "eligible").to_numpy(),
            "verified_on": v["visited_on"].to_numpy(),
            **{c: v[c].to_numpy() for c in ("audit", "explore", "selection_probability")},
        }
    )


def with_verified_outcomes(families: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """``families`` with ``verified_eligible`` set from ``outcomes`` (the ledger's, which win over the
    column's own value), the rest as they were."""
    found = pd.Series(outcomes["verified_eligible"].to_numpy(), index=outcomes["family_id"].to_numpy(), dtype="boolean")
    ids = families["family_id"].astype("string")
    before = (
        families["verified_eligible"] if "verified_eligible" in families else pd.Series(pd.NA, index=families.index)
    )
    filled = ids.map(found).astype("boolean").fillna(before.astype("boolean"))
    return families.assign(verified_eligible=filled.astype("boolean"))


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, None for every missing value (documents test values with ``or``)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
