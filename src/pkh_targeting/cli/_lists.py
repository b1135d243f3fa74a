"""``rank`` and ``feedback``: the lists for a verification round, and the results coming back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ..cases import list_round, open_ledger, record_results
from ..outputs import write_csv
from ..records.evidence import read_evidence
from ..scoring import read_scores
from ..tracking import load_model
from ..verification import make_lists, rank_reports, read_feedback
from ._app import TrackingUri, console, err_console, friendly, print_table, store_for
from ._cases import CasesOption

AuditMarginOption = Annotated[
    float | None,
    typer.Option(
        min=0.001,
        max=0.5,
        help="Size the audit sample by precision instead: leakage and undercoverage within this margin.",
    ),
]
MembersOption = Annotated[
    Path | None, typer.Option(help="The batch's members table: for --model, and for public lists (uji publik).")
]
PublicListsOption = Annotated[
    bool, typer.Option(help="With --members: also write public lists of the whole batch (uji publik).")
]
FormOption = Annotated[
    Literal["odk"] | None,
    typer.Option(help="Also write the visit as a form: odk (an XLSForm for ODK Central, ODK Collect, KoboToolbox)."),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="The model that scored the batch (folder or MLflow URI): listed families without reasons get "
        "them (scored with --reasons none, audit visits, budgets beyond --reasons-share). Needs --members."
    ),
]
ReferenceDateOption = Annotated[
    str | None,
    typer.Option(help="With --model: the date the batch was scored for; by default the one its manifest records."),
]


@friendly
def rank(
    scores: Annotated[Path, typer.Option(help="scores.parquet (folder or file) written by score.")],
    families: Annotated[Path, typer.Option(help="The batch's families table: names and addresses for the visit.")],
    budget: Annotated[int, typer.Option(min=1, help="Visits in all, audit sample included.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("lists"),
    by: Annotated[str, typer.Option(help="district_code or village_code.")] = "district_code",
    audit_share: Annotated[float, typer.Option(min=0, max=0.99, help="Share of visits drawn at random.")] = 0.1,
    audit_margin: AuditMarginOption = None,
    explore_share: Annotated[
        float, typer.Option(min=0, max=0.9, help="Share of visits drawn where the model is least sure (recorded).")
    ] = 0.0,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999, help="Confidence of the audit margins.")] = 0.95,
    inclusion_share: Annotated[float, typer.Option(min=0, max=1, help="Share of visits for the inclusion list.")] = 0.5,
    priority: Annotated[str, typer.Option(help="value (probability x rupiah) or probability.")] = "value",
    members: MembersOption = None,
    public_lists: PublicListsOption = True,
    form: FormOption = None,
    model: ModelOption = None,
    reports: Annotated[
        Path | None,
        typer.Option(help="Community reports: also write report_queue.csv, the reports to check within the budget."),
    ] = None,
    meeting: Annotated[
        bool,
        typer.Option(help="Also write meeting/: per village, the likely errors its musyawarah desa discusses first."),
    ] = False,
    meeting_size: Annotated[int, typer.Option(min=1, help="With --meeting: families per village.")] = 20,
    language: Annotated[str, typer.Option(help="Headers and reasons: id or en.")] = "id",
    seed: Annotated[int, typer.Option(help="Seed of the audit sample.")] = 0,
    tracking_uri: TrackingUri = None,
    reference_date: ReferenceDateOption = None,
    cases: CasesOption = None,
    cool_off_months: Annotated[
        int | None,
        typer.Option(min=0, help="With --cases: months a visit or decision settles a family; the rules' by default."),
    ] = None,
    rules: Annotated[
        str | None, typer.Option(help="With --cases: rules version or YAML for the cool-off; the batch's by default.")
    ] = None,
):
    """Rank families for field verification within a budget; write Excel/CSV lists and a summary. With
    --cases, record the round in the case ledger and leave out the families it holds as settled."""
    if model is not None and members is None:
        raise ValueError("--model explains the listed families from their records: give --members too.")
    store_for(model, tracking_uri, record=False)
    with console.status("ranking and writing the lists"):
        options = dict(members=members, public_lists=public_lists, form=form, language=language)
        options.update(model=load_model(model) if model else None, reference_date=reference_date)
        options.update(audit_margin=audit_margin, confidence=confidence, meeting_size=meeting_size if meeting else None)
        ranking = dict(by=by, audit_share=audit_share, inclusion_share=inclusion_share, priority=priority, seed=seed)
        ranking["explore_share"] = explore_share
        rounds = dict(cool_off_months=cool_off_months, rules=rules)
        lists = _lists(cases, rounds, scores, families, budget, out, **options, **ranking)
    if cases is not None:
        _print_round(lists, cases)
        lists = lists.lists
    _print_lists(lists, budget, out, form)
    if reports is not None:
        _report_queue(scores, reports, budget, out, by=by, audit_share=audit_share, seed=seed)


def _lists(cases, round_options: dict, *args, **options):
    """The lists, as a round of the ledger ``cases`` where one is given."""
    if cases is None:
        return make_lists(*args, **options)
    with open_ledger(cases) as ledger:
        return list_round(ledger, *args, **round_options, **options)


def _print_round(listed, cases) -> None:
    left = listed.left_out["basis"].value_counts()
    words = {"visit": "a visit", "decided": "a decision", "discussed": "a village meeting"}
    why = ", ".join(f"{n:,} by {words.get(basis, basis)}" for basis, n in left.items())
    console.print(
        f"round {listed.label} recorded in {cases}: {len(listed.lists.ranked):,} families listed; "
        f"{len(listed.left_out):,} settled families left out{f' ({why})' if why else ''}"
    )
    if len(listed.relisted):
        news = ", ".join(f"{n:,} {what}" for what, n in listed.relisted["new_evidence"].value_counts().items())
        console.print(f"{len(listed.relisted):,} settled families may be listed again: new evidence since ({news})")


def _report_queue(scores, reports, budget: int, out, **ranking) -> None:
    queue = rank_reports(read_scores(scores), read_evidence(reports, "community_reports"), budget, **ranking)
    write_csv(queue, Path(out) / "report_queue.csv")
    console.print(
        f"report_queue.csv: {len(queue):,} visits answer {queue['n_reports'].sum():,} reports "
        f"({int(queue['audit'].sum()):,} drawn at random), worth Rp{queue['expected_value_rp'].sum():,.0f} a year"
    )


def _print_lists(lists, budget: int, out, form) -> None:
    rows = [
        (
            t,
            f"{g.visits.sum():,}",
            f"{g.audit_visits.sum():,}",
            f"{g.expected_errors_found.sum():,.1f}",
            f"{g.expected_errors_random.sum():,.1f}",
            f"{g.rupiah_at_stake.sum():,.0f}",
        )
        for t, g in lists.summary.groupby("list")
    ]
    columns = ["list", "visits", "audit", "expected errors", "random visits", "rupiah at stake"]
    print_table(f"verification lists ({budget:,} visits)", columns, rows)
    console.print(f"{len(lists.paths)} list file(s), ranked.parquet and summary.csv written to [bold]{out}[/]")
    for a in lists.audit.itertuples():
        console.print(
            f"{a.list} audit: {a.audit_visits:,} visits of {a.left_out:,} families not ranked estimate {a.estimates} "
            f"within ±{a.margin:.3f} ({a.confidence:.0%} confidence; audit.csv)"
        )
    if form:
        console.print(
            f"the {form.upper()} form and its visit list (visits.csv, a media file) are in [bold]{out}/form[/]"
        )
    if lists.unreached:
        console.print(
            f"{lists.unreached:,} unit(s) of the lists got no visit: there are more units than visits, and the units "
            "whose first visit is worth most were served first (summary.csv lists them with 0 visits)."
        )
    if lists.unexplained:
        console.print(
            f"{lists.unexplained:,} listed families have no reasons: --model MODEL --members FILE explains them."
        )
    if (a := lists.agenda) is not None:
        n = a["list"].value_counts()
        console.print(
            f"meeting/: {len(a):,} families for the musyawarah of {a['village_code'].nunique():,} villages "
            f"({n.get('inclusion', 0):,} beneficiaries, {n.get('exclusion', 0):,} not) in [bold]{out}/meeting[/]"
        )


@friendly
def feedback(
    lists: Annotated[Path, typer.Option(help="Folder written by rank (holds ranked.parquet).")],
    results: Annotated[
        list[Path],
        typer.Option(help="Returned lists with the result column filled (.xlsx or .csv), or folders of them."),
    ],
    more: Annotated[
        list[Path] | None, typer.Argument(help="More returned lists or folders.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder; the lists folder by default.")] = None,
    cases: CasesOption = None,
):
    """Read field results: precision of the ranked visits, leakage and undercoverage from the audit
    sample (Horvitz-Thompson, 95% intervals), and verified_eligible outcomes for retraining. With
    --cases, record every result in the case ledger (the same file twice changes nothing)."""
    files = [*results, *(more or [])]
    est, bad = read_feedback(lists, files, out)
    if cases is not None:
        _record_results(cases, files, Path(out or lists))
    counts = (
        "visited",
        "not_found_or_moved",
        "bad_results",
        "inclusion_precision_ranked",
        "exclusion_precision_ranked",
    )
    rows = [(k, _figure(est[k])) for k in counts]
    rows += [
        (f"{k} (audit estimate)", f"{est[k]:.3f} ({est[k + '_low']:.3f}-{est[k + '_high']:.3f})")
        for k in ("leakage", "undercoverage")
        if est[k] is not None
    ]
    print_table("field results", ["measure", "value"], rows)
    if est["leakage"] is None:
        came, drawn = sum(est["audit_with_result"].values()), sum(est["audit_drawn"].values())
        console.print(
            f"{came:,} of {drawn:,} audit visits have a result: leakage and undercoverage are estimated from the "
            "random audit sample of every list, so they wait for those results."
        )
    if est["visited_twice"]:
        console.print(f"{est['visited_twice']:,} families were visited more than once: their latest result counts.")
    if len(bad):
        err_console.print(
            f"[yellow]warning:[/] {len(bad)} result(s) not understood (see bad_results.csv); "
            f"use: {bad.expected.iloc[0]}"
        )
    console.print(
        f"verified_outcomes.csv (for retraining), bad_results.csv and feedback.json written to [bold]{out or lists}[/]"
    )
    for u in est["unreadable"]:  # the others were read; the command still fails, so that nobody misses it
        err_console.print(f"[bold red]error:[/] {u['file']} was not read: {u['problem']}", highlight=False)
    if est["unreadable"]:
        raise typer.Exit(1)


def _record_results(cases, files, out: Path) -> None:
    with open_ledger(cases) as ledger:
        rec = record_results(ledger, files)
    write_csv(rec.conflicts, out / "conflicts.csv")
    console.print(
        f"case ledger {cases}: {rec.new:,} new result(s), {rec.already_recorded:,} already recorded; "
        f"{len(rec.conflicts):,} conflict(s) to settle (conflicts.csv; cases decide settles them)"
    )
    if len(rec.unknown_families):
        write_csv(rec.unknown_families, out / "results_without_case.csv")
        err_console.print(
            f"[yellow]warning:[/] {len(rec.unknown_families):,} result(s) for families the ledger has no case for "
            "(never listed with --cases) were not recorded: results_without_case.csv"
        )


def _figure(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"
