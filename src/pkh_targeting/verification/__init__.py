"""Verification: budgeted lists per district or village, the field lists, and the results coming back."""

from ._audit import audit_margins, audit_share_for_margin, rate_margin, sample_size
from ._explain_lists import explain_lists
from ._feedback import bad_results, counted_results, csv_cells, estimate_errors, outcomes_for_retraining, read_results
from ._field_lists import (
    HEADERS,
    MEETING_CODES,
    MEETING_DECISION,
    RESULT_CODES,
    field_table,
    public_list,
    write_field_lists,
    write_public_lists,
)
from ._forms import write_field_form
from ._lists import Lists, make_lists, read_feedback, read_ranked, read_result_files
from ._ranking import benefit_at_stake, meeting_agenda, rank_for_verification, summarize_lists
from ._reports import QUEUE_COLUMNS, rank_reports, report_outcomes, reports_answered

__all__ = [
    "HEADERS",
    "MEETING_CODES",
    "MEETING_DECISION",
    "QUEUE_COLUMNS",
    "RESULT_CODES",
    "Lists",
    "audit_margins",
    "audit_share_for_margin",
    "rate_margin",
    "sample_size",
    "bad_results",
    "counted_results",
    "csv_cells",
    "benefit_at_stake",
    "estimate_errors",
    "explain_lists",
    "field_table",
    "make_lists",
    "meeting_agenda",
    "outcomes_for_retraining",
    "public_list",
    "rank_for_verification",
    "rank_reports",
    "report_outcomes",
    "reports_answered",
    "read_feedback",
    "read_ranked",
    "read_result_files",
    "read_results",
    "summarize_lists",
    "write_field_form",
    "write_field_lists",
    "write_public_lists",
]
