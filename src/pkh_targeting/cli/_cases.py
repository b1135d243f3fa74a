"""``cases``: the case ledger's commands (status, decisions, conflicts, proposals, minutes, refresh),
and the ``--cases`` option that ``rank``, ``feedback`` and ``train`` share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cases import (
    DECISION_WORDS,
    conflicts,
    open_ledger,
    record_decisions,
    refresh,
    status,
    write_minutes,
    write_proposals,
)
from ..outputs import write_csv
from ._app import as_date, console, friendly, print_table

CasesOption = Annotated[
    str | None,
    typer.Option(help="The case ledger: a SQLite file (cases.db) or a database URL (postgresql+psycopg://...)."),
]
LedgerOption = Annotated[
    str, typer.Option("--cases", help="The case ledger: a SQLite file or a database URL (postgresql+psycopg://...).")
]
DateOption = Annotated[str | None, typer.Option(help="Date of the document (YYYY-MM-DD); today by default.")]
RecordedBy = Annotated[str | None, typer.Option(help="Who records (name or role); the user running it by default.")]

cases_app = typer.Typer(
    help="The case ledger: every family put in front of people, from list to visit to decision to the registry.",
    no_args_is_help=True,
)


@cases_app.command("status")
@friendly
def status_command(cases: LedgerOption = "cases.db"):
    """Cases per state and village."""
    with open_ledger(cases) as ledger:
        table = status(ledger)
    if not len(table):
        console.print("the ledger has no case yet: rank --cases records the first round.")
        return
    print_table("cases per state", list(map(str, table.columns)), table.astype(str).itertuples(index=False))


@cases_app.command("decide")
@friendly
def decide_command(
    file: Annotated[Path, typer.Option(help="Decisions sheet (.xlsx or .csv): family ID, decision, grounds...")],
    cases: LedgerOption = "cases.db",
    recorded_by: RecordedBy = None,
):
    """Record decisions (the office's, or a village meeting's) from a returned sheet."""
    with open_ledger(cases) as ledger:
        n = record_decisions(ledger, file, recorded_by=recorded_by)
    console.print(f"{n:,} new decision(s) recorded ({', '.join(sorted(set(DECISION_WORDS.values())))}).")


@cases_app.command("conflicts")
@friendly
def conflicts_command(
    cases: LedgerOption = "cases.db",
    out: Annotated[Path | None, typer.Option(help="Also write them to this CSV file.")] = None,
):
    """Cases whose results disagree and await a decision (cases decide settles them)."""
    with open_ledger(cases) as ledger:
        c = conflicts(ledger)
    print_table(f"{len(c):,} conflict(s)", ["family", "village", "results"], c.itertuples(index=False), right_from=3)
    if out is not None:
        console.print(f"written to [bold]{write_csv(c, out)}[/]")


@cases_app.command("proposals")
@friendly
def proposals_command(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("usulan"),
    cases: LedgerOption = "cases.db",
    date: DateOption = None,
    recorded_by: RecordedBy = None,
):
    """Write the usulan per village (Excel and CSV for the SIKS-NG operator) and record them as proposed."""
    with open_ledger(cases) as ledger:
        paths = write_proposals(ledger, out, on=as_date(date), recorded_by=recorded_by)
    villages = len(paths) // 2
    console.print(f"usulan for {villages:,} village(s) written to [bold]{out}[/]" if paths else "no change to propose.")


@cases_app.command("minutes")
@friendly
def minutes_command(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("berita-acara"),
    cases: LedgerOption = "cases.db",
    round: Annotated[str | None, typer.Option(help="Round label or id; the latest by default.")] = None,
    date: DateOption = None,
    pdf: Annotated[bool, typer.Option(help="Also print each to PDF (LibreOffice).")] = True,
):
    """Write the berita acara of each village with visits in a round (DOCX and PDF)."""
    with open_ledger(cases) as ledger:
        paths = write_minutes(ledger, out, round=round, on=as_date(date), pdf=pdf)
    console.print(f"{len(paths):,} file(s) of minutes written to [bold]{out}[/]")


@cases_app.command("refresh")
@friendly
def refresh_command(
    scores: Annotated[Path, typer.Option(help="The new batch's scores.parquet (folder or file).")],
    cases: LedgerOption = "cases.db",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("refresh"),
    flag_at: Annotated[float, typer.Option(min=0, max=1, help="Error score from which a family is flagged.")] = 0.5,
    recorded_by: RecordedBy = None,
):
    """Compare a new scored batch with the ledger: decisions applied or not, flags again, new and resolved."""
    with open_ledger(cases) as ledger:
        res = refresh(ledger, scores, flag_at=flag_at, recorded_by=recorded_by)
    write_csv(res.cases, Path(out) / "refresh_cases.csv")
    write_csv(res.by_village, Path(out) / "refresh_by_village.csv")
    print_table(
        "the new batch against the ledger", ["change", "cases"], [(k, f"{v:,}") for k, v in res.summary.items()]
    )
    console.print(f"refresh_cases.csv and refresh_by_village.csv written to [bold]{out}[/]")
