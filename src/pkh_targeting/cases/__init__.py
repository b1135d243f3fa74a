"""The case ledger: every family the library has put in front of people, from list to visit to
decision to the registry's change, round after round.

A case's history is a list of events that are only ever inserted (``scored``, ``listed``,
``visited``, ``discussed``, ``decided``, ``proposed``, ``applied``, ``not_applied``), each with its
time, its source file's SHA-256 and row, and who recorded it; its state is a pure function of them
(`case_state`). The ledger is a SQLite file (``cases.db``) or a PostgreSQL database (`open_ledger`).
"""

from ._decisions import DECISION_WORDS, decide, record_decisions
from ._minutes import write_minutes
from ._proposals import proposals, write_proposals
from ._refresh import Refreshed, refresh, status
from ._results import RecordedResults, conflicts, record_results
from ._rounds import ListedRound, list_round, settled_families
from ._schema import EVENT_KINDS
from ._state import DECISIONS, RESULTS, STATES, CaseState, case_state, case_states
from ._store import DEFAULT_LEDGER, Ledger, open_ledger
from ._views import case_table, minutes_number, verified_outcomes, with_verified_outcomes

__all__ = [
    "DECISIONS",
    "DECISION_WORDS",
    "DEFAULT_LEDGER",
    "EVENT_KINDS",
    "RESULTS",
    "STATES",
    "CaseState",
    "Ledger",
    "ListedRound",
    "RecordedResults",
    "Refreshed",
    "case_state",
    "case_states",
    "case_table",
    "conflicts",
    "decide",
    "list_round",
    "minutes_number",
    "open_ledger",
    "proposals",
    "record_decisions",
    "record_results",
    "refresh",
    "settled_families",
    "status",
    "verified_outcomes",
    "with_verified_outcomes",
    "write_minutes",
    "write_proposals",
]
