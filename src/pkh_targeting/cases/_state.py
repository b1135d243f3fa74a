"""A case's state as a pure function of its events (`case_state`), and of many cases at once.

The rules, in the order the fold applies them:

- A visit counts with its result, unless its form submission was last reviewed as rejected (no
  outcome) or as having issues (held back until settled). "Not found" and "moved" settle nothing.
- A decision (or a village meeting's) settles the results before it; "defer" settles nothing, and
  unsettles the results before it: the case waits for another visit.
- Usable results after the last decision that disagree (eligible and not eligible, from any two
  sources) are a conflict: never settled by which file came last, only by a decision.
- The decision asked for is the latest decision, or, where results came after it, what the result
  calls for: remove a beneficiary found not eligible, add an eligible family left out, keep otherwise.
- A case is settled on the date of the result or decision its decision rests on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

RESULTS = ("eligible", "not eligible", "not found", "moved")
USABLE = ("eligible", "not eligible")
DECISIONS = ("keep", "remove", "add", "update", "defer")
STATES = (
    "scored", "listed", "unreachable", "held", "verified", "conflict", "discussed", "decided", "proposed",
    "applied", "not_applied",
)  # fmt: skip
REJECTED, HELD = "rejected", "has_issues"


@dataclass(frozen=True)
class CaseState:
    """Where a case stands: see the module for the rules."""

    family_id: str
    state: str
    receives_pkh: bool | None = None
    error_type: str | None = None
    error_score: float | None = None
    rounds: tuple = ()
    audit: bool | None = None
    explore: bool | None = None
    selection_probability: float | None = None
    result: str | None = None  # the usable result the decision rests on
    visited_on: dt.date | None = None  # of that visit, or of the latest visit without a usable result
    visit: dict = field(default_factory=dict)  # officer, photo, coordinates, minutes of that visit
    last_visit_result: str | None = None
    conflict: bool = False
    conflicting: tuple = ()  # the disagreeing results and their sources
    held: bool = False
    decision: str | None = None
    decision_basis: str | None = None  # result, discussed or decided
    decided_on: dt.date | None = None
    grounds: str | None = None
    settled_on: dt.date | None = None
    proposed_in: str | None = None
    applied: bool | None = None


def _counted_visits(visits: list[tuple[int, dict]]) -> tuple[list, list]:
    """Visits that count, and those held back, by the latest review of each form submission."""
    review = {}
    for _, e in visits:
        if (inst := e["data"].get("instance_id")) is not None:
            review[inst] = e["data"].get("review_state")
    counted, held = [], []
    for pos, e in visits:
        state = review.get(e["data"].get("instance_id"), e["data"].get("review_state"))
        if state == REJECTED:
            continue
        (held if state == HELD else counted).append((pos, e))
    return counted, held


def _details(visit: dict) -> dict:
    return {k: visit["data"].get(k) for k in ("officer", "photo", "latitude", "longitude", "minutes")}


def _decision_for(result: str, receives: bool | None) -> str:
    if result == "not eligible" and receives:
        return "remove"
    if result == "eligible" and receives is False:
        return "add"
    return "keep"


def case_state(events) -> CaseState:
    """The state of one case from its events (dicts or a DataFrame with the ledger's event columns),
    in the order they were recorded."""
    rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
    if not rows:
        raise ValueError("a case has at least one event.")
    by_kind = {k: [] for k in ("scored", "listed", "visited", "decision", "proposed", "applied")}
    for pos, e in enumerate(rows):
        kind = e["kind"]
        kind = "decision" if kind in ("discussed", "decided") else "applied" if kind == "not_applied" else kind
        by_kind[kind].append((pos, e))
    out = {"family_id": rows[0]["family_id"]}
    if by_kind["scored"]:
        d = by_kind["scored"][-1][1]["data"]
        out.update(receives_pkh=d.get("receives_pkh"), error_type=d.get("error_type"), error_score=d.get("error_score"))
    visits = [e for _, e in by_kind["listed"] if e["value"] != "meeting"]  # listed for a visit, not a meeting
    if visits:
        last = visits[-1]
        out.update({k: last["data"].get(k) for k in ("audit", "explore", "selection_probability")})
    out["rounds"] = tuple(dict.fromkeys(e["round_id"] for _, e in by_kind["listed"]))
    out.update(_settle(by_kind))
    out["state"] = _stage(out, by_kind)
    return CaseState(**out)


def _status_at(scored: list, pos: int):
    """The family's PKH status as scored before event ``pos`` (the first scoring if none was)."""
    before = [e for p, e in scored if p < pos] or [e for _, e in scored[:1]]
    return before[-1]["data"].get("receives_pkh") if before else None


def _settle(by_kind: dict) -> dict:
    """Result, conflict, decision and the date the case was settled on; the decision a result calls
    for depends on the status the family had when it was visited."""
    counted, held = _counted_visits(by_kind["visited"])
    settling = [(p, e) for p, e in by_kind["decision"] if e["value"] != "defer"]
    cut = settling[-1][0] if settling else -1
    after = [(p, e) for p, e in counted if e["value"] in USABLE and p > cut]
    out = {"held": any(p > cut for p, _ in held)}
    if counted:
        last = counted[-1][1]
        out.update(last_visit_result=last["value"], visited_on=last["occurred_on"], visit=_details(last))
    if len({e["value"] for _, e in after}) > 1:
        out["conflict"] = True
        out["conflicting"] = tuple((e["value"], e["source"], e["occurred_on"]) for _, e in after)
        return out
    if after:
        pos, e = max(after, key=lambda pe: (pe[1]["occurred_on"], pe[0]))
        out.update(result=e["value"], visited_on=e["occurred_on"], visit=_details(e), settled_on=e["occurred_on"])
        decision = _decision_for(e["value"], _status_at(by_kind["scored"], pos))
        out.update(decision=decision, decision_basis="result", basis_pos=pos)
    elif by_kind["decision"]:
        pos, e = by_kind["decision"][-1]
        out.update(decision=e["value"], decision_basis=e["kind"], decided_on=e["occurred_on"], basis_pos=pos)
        out.update(grounds=e["data"].get("grounds"), settled_on=None if e["value"] == "defer" else e["occurred_on"])
    deferred = by_kind["decision"] and by_kind["decision"][-1][1]["value"] == "defer"
    if deferred and by_kind["decision"][-1][0] > out.get("basis_pos", -1):  # deferred for another visit
        pos, e = by_kind["decision"][-1]
        out.update(decision="defer", decision_basis=e["kind"], decided_on=e["occurred_on"], settled_on=None)
        out.update(grounds=e["data"].get("grounds"), basis_pos=pos)
    basis = out.pop("basis_pos", None)
    if basis is not None:
        later = [e for p, e in by_kind["proposed"] if p > basis]
        if later:
            out["proposed_in"] = later[-1]["source"]
            applied = [e for p, e in by_kind["applied"] if p > basis]
            out["applied"] = applied[-1]["kind"] == "applied" if applied else None
    return out


def _stage(out: dict, by_kind: dict) -> str:
    if out.get("applied") is not None:
        return "applied" if out["applied"] else "not_applied"
    if out.get("proposed_in"):
        return "proposed"
    if out.get("conflict"):
        return "conflict"
    if out.get("decision_basis") in ("discussed", "decided"):
        return out["decision_basis"]
    if out.get("result"):
        return "verified"
    if out.get("held"):
        return "held"
    if out.get("last_visit_result") in ("not found", "moved"):
        return "unreachable"
    return "listed" if by_kind["listed"] else "scored"


def case_states(events: pd.DataFrame) -> pd.DataFrame:
    """`case_state` of every case in ``events``, one row per family (in family_id order)."""
    columns = list(CaseState.__dataclass_fields__)
    by_family = defaultdict(list)
    for e in events.sort_values("id").to_dict("records") if len(events) else []:
        by_family[e["family_id"]].append(e)
    rows = [vars(case_state(by_family[f])) for f in sorted(by_family)]
    return pd.DataFrame(rows, columns=columns)
