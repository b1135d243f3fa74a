"""Command-line interface: ``pkh-targeting synth|validate|...``."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from .batch import CHUNK_FAMILIES
from .exceptions import SchemaError

app = typer.Typer(
    help="Find PKH inclusion and exclusion errors in DTSEN household records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

USAGE_ERROR = 2


@app.callback()
def _setup() -> None:
    """Find PKH inclusion and exclusion errors in DTSEN household records."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _friendly(func):
    """Turn unusable input into a one-line error and exit code 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (SchemaError, ValidationError, FileNotFoundError, ValueError, ConnectionError) as exc:
            first, *rest = str(exc).strip().splitlines() or [type(exc).__name__]
            err_console.print(f"[bold red]error:[/] {first}", highlight=False, markup=True)
            for line in rest:
                err_console.print(f"  {line}", highlight=False, markup=False)
            raise typer.Exit(USAGE_ERROR) from None

    return wrapper


ReferenceDate = Annotated[str | None, typer.Option(help="Date ages refer to (YYYY-MM-DD); today by default.")]


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@app.command()
@_friendly
def synth(
    families: Annotated[int, typer.Option("--families", "-n", min=1, help="Number of families.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/synthetic"),
    defect_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of families with injected defects.")] = 0.0,
    reference_date: ReferenceDate = None,
    partition_by: Annotated[
        str | None,
        typer.Option(help="Also write families/ and members/ datasets partitioned by this region column (Dask)."),
    ] = None,
):
    """Generate a synthetic registry: families, members and truth as Parquet."""
    from .synth import generate_registry

    with console.status(f"generating {families:,} families"):
        reg = generate_registry(families, seed, defect_rate=defect_rate, reference_date=_date(reference_date))
        path = reg.write(out)
        if partition_by:
            from .dask_scoring import write_partitioned

            write_partitioned(reg.families, reg.members, out / "partitioned", by=partition_by)
    t = reg.truth
    console.print(
        f"wrote {len(reg.families):,} families, {len(reg.members):,} members and the truth to [bold]{path}[/]\n"
        f"beneficiaries {t.receives_pkh.mean():.1%}, eligible {t.eligible.mean():.1%}, "
        f"leakage {t.inclusion_error.sum() / max(t.receives_pkh.sum(), 1):.1%}, "
        f"undercoverage {t.exclusion_error.sum() / max(t.eligible.sum(), 1):.1%}"
    )


@app.command()
@_friendly
def validate(
    families: Annotated[Path, typer.Option(help="Families table (.csv, .parquet, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table (.csv, .parquet, .xlsx).")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("validated"),
    reference_date: ReferenceDate = None,
):
    """Validate records against the data contract; write valid rows and quarantine.csv."""
    from .outputs import write_csv, write_parquet
    from .reading import read_records
    from .validation import validate_records

    with _warnings_to_stderr():
        fam, mem = read_records(families, members)
        res = validate_records(fam, mem, reference_date=_date(reference_date))
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(res.families, out / "families.parquet")
    write_parquet(res.members, out / "members.parquet")
    write_csv(res.quarantine, out / "quarantine.csv")
    print_validation(res)
    console.print(f"valid records and quarantine.csv written to [bold]{out}[/]")


TrackingUri = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI; MLFLOW_TRACKING_URI or the embedded store under models/ by default."),
]
NoTracking = Annotated[bool, typer.Option("--no-tracking", help="Do not record the run in MLflow.")]
LocalIfDown = Annotated[
    bool,
    typer.Option(
        "--local-if-down", help="If the tracking server does not answer, record in the local store (tagged) instead."
    ),
]


@app.command()
@_friendly
def train(
    families: Annotated[Path, typer.Option(help="Families table with outcome columns (.csv, .parquet, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table.")],
    config: Annotated[Path | None, typer.Option(help="Training config YAML; configs/train.yaml by default.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the saved model.")] = Path("models/latest"),
    register: Annotated[
        str | None, typer.Option(help="Register the model under this name (alias challenger; champion if none yet).")
    ] = None,
    holdout_families: Annotated[
        Path | None, typer.Option(help="Held-out labelled families for held-out metrics.")
    ] = None,
    holdout_members: Annotated[Path | None, typer.Option(help="Members of the held-out families.")] = None,
    tracking_uri: TrackingUri = None,
    no_tracking: NoTracking = False,
    local_if_down: LocalIfDown = False,
    reference_date: ReferenceDate = None,
):
    """Train the targeting model; the last line printed is the model's folder, or its MLflow URI."""
    from . import tracking
    from .modeling import TargetingModel
    from .reading import read_records
    from .validation import validate_records

    if not no_tracking:
        uri = _configure_tracking(tracking_uri, local_if_down)
    fam, mem = read_records(families, members)
    res = validate_records(fam, mem, reference_date=_date(reference_date))
    with console.status("training (grouped cross-validation by regency)"):
        model = TargetingModel(config).fit(res.families, res.members, reference_date=_date(reference_date))
    if not no_tracking:
        with console.status(f"recording the run in MLflow ({uri})"):
            holdout = None
            if holdout_families and holdout_members:
                holdout = (*read_records(holdout_families, holdout_members),)
            record = tracking.log_training(
                model,
                res.families,
                res.members,
                register=register,
                holdout=holdout,
                reference_date=_date(reference_date),
            )
    path = model.save(out)
    summary = Table(title="training")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for k, v in {**model.training_summary_, **model.cv_metrics_}.items():
        summary.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(summary)
    console.print(f"model saved to {path.resolve()}", highlight=False, soft_wrap=True)
    if no_tracking:
        console.print(str(path.resolve()), highlight=False, soft_wrap=True)
    else:
        console.print(f"MLflow run {record.run_id} in {uri}", highlight=False, soft_wrap=True)
        final = (
            f"models:/{record.registered_name}/{record.version}" if record.version else f"runs:/{record.run_id}/model"
        )
        console.print(final, highlight=False, soft_wrap=True)


@app.command()
@_friendly
def score(
    model: Annotated[str, typer.Option(help="Model folder, or MLflow URI such as models:/NAME@champion.")],
    families: Annotated[Path, typer.Option(help="Families table (.parquet file or folder, .csv, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("scores"),
    rules: Annotated[
        str | None, typer.Option(help="Rules version the batch is for; refused if the model's differs.")
    ] = None,
    language: Annotated[str, typer.Option(help="Language of the reasons: id or en.")] = "id",
    reasons: Annotated[
        Literal["auto", "all", "none"],
        typer.Option(
            help="Families given reasons: auto (error score 0.2 or more), all, or none (fastest; rank --model "
            "explains the listed families later)."
        ),
    ] = "auto",
    chunk_size: Annotated[
        int, typer.Option(min=1000, help="Families per chunk: memory grows with it, not with the batch.")
    ] = CHUNK_FAMILIES,
    jobs: Annotated[
        int,
        typer.Option(
            help="Chunks scored at once, each in its own process; -1: one per core. Memory grows with jobs x "
            "chunk size (about 0.6 GB per job with chunks of 100,000 families)."
        ),
    ] = -1,
    engine: Annotated[
        Literal["pandas", "dask"],
        typer.Option(help="pandas (chunks on this machine) or dask (a partitioned dataset on a cluster)."),
    ] = "pandas",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address; a LocalCluster on this machine by default.")
    ] = None,
    tracking_uri: TrackingUri = None,
    no_tracking: NoTracking = False,
    local_if_down: LocalIfDown = False,
    reference_date: ReferenceDate = None,
):
    """Score a batch: write scores.parquet (a folder of parts) and quarantine.csv, and record the batch
    in MLflow."""
    from . import tracking
    from .batch import score_files

    if not no_tracking or model.startswith(("models:/", "runs:/")):
        _configure_tracking(tracking_uri, local_if_down and not model.startswith(("models:/", "runs:/")))
    loaded = tracking.load_model(model)
    tracking.check_batch(loaded, rules)
    options = {"reference_date": _date(reference_date), "language": language, "reasons": reasons}
    if engine == "dask":
        from .dask_scoring import score_dataset

        with console.status("scoring on Dask"), _warnings_to_stderr():
            summary = score_dataset(loaded, families, members, out, scheduler=scheduler, **options)
    else:
        with _progress() as bar, _warnings_to_stderr():
            task = bar.add_task("scoring", total=None)
            summary = score_files(
                loaded,
                families,
                members,
                out,
                chunk_size=chunk_size,
                n_jobs=jobs,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                **options,
            )
    print_validation(summary)
    console.print(f"scored {summary.n_scored:,} families with {loaded.model_version}")
    if not no_tracking:
        with _warnings_to_stderr():
            run_id, drift = tracking.log_scoring(loaded, summary)
        console.print(f"batch recorded as MLflow run {run_id}")
    console.print(f"scores.parquet and quarantine.csv written to [bold]{out}[/]")


@contextlib.contextmanager
def _warnings_to_stderr():
    """Show the library's warnings (data quality, drift, fallbacks) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            yield
        finally:
            for w in dict.fromkeys(str(w.message) for w in caught):
                err_console.print(f"[yellow]warning:[/] {w}", highlight=False)


def _configure_tracking(uri: str | None, local_if_down: bool) -> str:
    from . import tracking

    with _warnings_to_stderr():
        return tracking.configure(uri, local_if_down=local_if_down)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


@app.command()
@_friendly
def rank(
    scores: Annotated[Path, typer.Option(help="scores.parquet (folder or file) written by score.")],
    families: Annotated[Path, typer.Option(help="The batch's families table: names and addresses for the visit.")],
    budget: Annotated[int, typer.Option(min=1, help="Visits in all, audit sample included.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("lists"),
    by: Annotated[str, typer.Option(help="district_code or village_code.")] = "district_code",
    audit_share: Annotated[float, typer.Option(min=0, max=0.99, help="Share of visits drawn at random.")] = 0.1,
    inclusion_share: Annotated[float, typer.Option(min=0, max=1, help="Share of visits for the inclusion list.")] = 0.5,
    priority: Annotated[str, typer.Option(help="value (probability x rupiah) or probability.")] = "value",
    members: Annotated[
        Path | None, typer.Option(help="The batch's members table: for --model, and for public lists (uji publik).")
    ] = None,
    public_lists: Annotated[
        bool, typer.Option(help="With --members: also write public lists of the whole batch (uji publik).")
    ] = True,
    model: Annotated[
        str | None,
        typer.Option(
            help="The model that scored the batch (folder or MLflow URI): listed families without reasons get "
            "them (scored with --reasons none, or below the reasons threshold). Needs --members."
        ),
    ] = None,
    language: Annotated[str, typer.Option(help="Headers and reasons: id or en.")] = "id",
    seed: Annotated[int, typer.Option(help="Seed of the audit sample.")] = 0,
    tracking_uri: TrackingUri = None,
    reference_date: Annotated[
        str | None,
        typer.Option(help="With --model: the date the batch was scored for; by default the one its manifest records."),
    ] = None,
):
    """Rank families for field verification within a budget; write Excel/CSV lists and a summary."""
    from .batch import read_records_of, read_scores
    from .field_lists import VISIT_COLUMNS, write_field_lists, write_public_lists
    from .outputs import write_csv, write_parquet
    from .reading import read_table
    from .verification import rank_for_verification, summarize_lists

    if model is not None and members is None:
        raise ValueError("--model explains the listed families from their records: give --members too.")
    s = read_scores(scores)
    ranked = rank_for_verification(
        s, budget, by=by, audit_share=audit_share, inclusion_share=inclusion_share, priority=priority, seed=seed
    )
    if model is not None:
        from . import tracking
        from .verification import explain_lists

        if model.startswith(("models:/", "runs:/")):
            _configure_tracking(tracking_uri, False)
        manifest = scores / "_batch.json"
        if reference_date is None and manifest.is_file():
            reference_date = json.loads(manifest.read_text()).get("reference_date")
        with console.status("explaining the listed families"):
            ranked = explain_lists(
                ranked, tracking.load_model(model), families, members, reference_date=reference_date, language=language
            )
    public = members is not None and public_lists
    # public lists show the whole batch; field lists only the families to visit
    fam = (
        read_table(families, "families")
        if public
        else read_records_of(families, "families", ranked["family_id"], VISIT_COLUMNS)
    )
    paths = write_field_lists(ranked, fam, out / "field", language=language)
    write_parquet(ranked, out / "ranked.parquet", index=False)
    summary = summarize_lists(ranked, s, by=by)
    write_csv(summary, out / "summary.csv")
    if public:
        paths += write_public_lists(fam, read_table(members, "members"), out / "public")
    table = Table(title=f"verification lists ({budget:,} visits)")
    for col in ("list", "visits", "audit", "expected errors", "random visits", "rupiah at stake"):
        table.add_column(col, justify="left" if col == "list" else "right")
    for t, g in summary.groupby("list"):
        table.add_row(
            t,
            f"{g.visits.sum():,}",
            f"{g.audit_visits.sum():,}",
            f"{g.expected_errors_found.sum():,.1f}",
            f"{g.expected_errors_random.sum():,.1f}",
            f"{g.rupiah_at_stake.sum():,.0f}",
        )
    console.print(table)
    console.print(f"{len(paths)} list file(s), ranked.parquet and summary.csv written to [bold]{out}[/]")
    unexplained = int(ranked["reasons"].isna().sum())
    if unexplained:
        console.print(f"{unexplained:,} listed families have no reasons: --model MODEL --members FILE explains them.")


@app.command()
@_friendly
def feedback(
    lists: Annotated[Path, typer.Option(help="Folder written by rank (holds ranked.parquet).")],
    results: Annotated[
        list[Path], typer.Option(help="Returned list(s) with the result column filled (.xlsx or .csv).")
    ],
    out: Annotated[Path | None, typer.Option(help="Output folder; the lists folder by default.")] = None,
):
    """Read field results: precision of the ranked visits, leakage and undercoverage from the audit
    sample (Horvitz-Thompson, 95% intervals), and verified_eligible outcomes for retraining."""
    import pandas as pd

    from .feedback import bad_results, estimate_errors, outcomes_for_retraining, read_results
    from .outputs import atomic_path, write_csv

    ranked = pd.read_parquet(lists / "ranked.parquet")
    res = pd.concat([read_results(p) for p in results], ignore_index=True)
    est = estimate_errors(ranked, res)
    out = out or lists
    write_csv(outcomes_for_retraining(res), out / "verified_outcomes.csv")
    bad = bad_results(res)
    write_csv(bad, out / "bad_results.csv")
    with atomic_path(out / "feedback.json") as tmp:
        tmp.write_text(json.dumps(est, indent=1))
    table = Table(title="field results")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k in (
        "visited",
        "not_found_or_moved",
        "bad_results",
        "inclusion_precision_ranked",
        "exclusion_precision_ranked",
    ):
        v = est[k]
        table.add_row(k, f"{v:.3f}" if isinstance(v, float) else f"{v:,}")
    for k in ("leakage", "undercoverage"):
        table.add_row(f"{k} (audit estimate)", f"{est[k]:.3f} ({est[k + '_low']:.3f}-{est[k + '_high']:.3f})")
    console.print(table)
    if len(bad):
        err_console.print(
            f"[yellow]warning:[/] {len(bad)} result(s) not understood (see bad_results.csv); "
            f"use: {bad.expected.iloc[0]}"
        )
    console.print(
        f"verified_outcomes.csv (for retraining), bad_results.csv and feedback.json written to [bold]{out}[/]"
    )


@app.command()
@_friendly
def report(
    model: Annotated[str, typer.Option(help="Model folder, or MLflow URI such as models:/NAME@champion.")],
    scores: Annotated[
        Path | None, typer.Option(help="scores.parquet written by score: adds the batch's counts and drift.")
    ] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    tracking_uri: TrackingUri = None,
):
    """Write the audit report: a self-contained HTML page on the model and, optionally, a scored batch."""
    from . import tracking
    from .report import write_report

    if model.startswith(("models:/", "runs:/")):
        tracking.configure(tracking_uri)
    loaded = tracking.load_model(model)
    with console.status("writing the audit report"):
        path = write_report(loaded, out, scores=scores)
    console.print(f"audit report written to [bold]{path}[/]")


def print_validation(res) -> None:
    table = Table(title="validation")
    for col in ("table", "read", "valid", "quarantined"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, row in res.summary().iterrows():
        table.add_row(name, f"{row.read:,}", f"{row.valid:,}", f"{row.quarantined:,}")
    console.print(table)
    counts = res.rule_counts()
    if len(counts):
        rules = Table(title="problems by rule")
        rules.add_column("rule")
        rules.add_column("problems", justify="right")
        for rule, n in counts.items():
            rules.add_row(str(rule), f"{n:,}")
        console.print(rules)


@app.command()
@_friendly
def demo(
    families: Annotated[
        int, typer.Option("--families", "-n", min=1000, help="Families in the training registry.")
    ] = 20_000,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
):
    """Run the whole job end to end on a synthetic registry: generate, validate, train and register,
    score a new batch, rank it for 200 visits, write the lists and the audit report."""
    from . import tracking
    from .batch import read_scores, score_files
    from .field_lists import write_field_lists
    from .modeling import TargetingModel
    from .outputs import write_csv, write_parquet
    from .report import write_report
    from .synth import generate_registry
    from .validation import validate_records
    from .verification import explain_lists, rank_for_verification

    out.mkdir(parents=True, exist_ok=True)
    uri = tracking.configure()
    done = []

    def finished(what: str, where) -> None:
        done.append((what, str(where)))

    with _progress() as bar, _warnings_to_stderr():

        def step(description: str, total: int = 1):
            return bar.add_task(description, total=total)

        t = step(f"generating a registry of {families:,} families (1% with defects) and a new batch", 2)
        reg = generate_registry(families, seed, regions_seed=seed, defect_rate=0.01)
        reg.write(out / "registry")
        bar.advance(t)
        batch = generate_registry(max(families // 4, 1000), seed + 1, regions_seed=seed, defect_rate=0.01)
        batch.write(out / "new-batch")
        new_batch = out / "new-batch" / "families.parquet", out / "new-batch" / "members.parquet"
        bar.advance(t)
        finished("synthetic registry (families, members, truth)", out / "registry")

        t = step("validating against the data contract")
        res = validate_records(reg.families, reg.members, reference_date=reg.reference_date)
        write_csv(res.quarantine, out / "quarantine.csv")
        bar.advance(t)
        finished(f"quarantine ({len(res.quarantine):,} problems)", out / "quarantine.csv")

        t = step("training the targeting model (cross-validation grouped by regency)")
        model = TargetingModel().fit(res.families, res.members, reference_date=reg.reference_date)
        bar.advance(t)

        t = step("recording the model in MLflow and registering it")
        record = tracking.log_training(
            model, res.families, res.members, register="pkh-targeting-demo", holdout=(batch.families, batch.members)
        )
        model.save(out / "model")
        bar.advance(t)
        finished(f"model pkh-targeting-demo version {record.version}", out / "model")

        t = step("scoring the new batch with the champion", None)
        champion = tracking.load_model("models:/pkh-targeting-demo@champion")
        scored = score_files(
            champion,
            *new_batch,
            out / "scores",
            chunk_size=max(len(batch.families) // 2, 1000),
            progress=lambda k, n: bar.update(t, completed=k, total=n),
            reference_date=batch.reference_date,
        )
        run_id, _ = tracking.log_scoring(champion, scored)
        finished(f"scores of {scored.n_scored:,} families (MLflow run {run_id[:8]})", out / "scores")

        t = step("ranking for 200 visits and writing the field lists")
        s = read_scores(out / "scores" / "scores.parquet")
        ranked = rank_for_verification(s, 200, seed=seed)
        ranked = explain_lists(ranked, champion, *new_batch, reference_date=batch.reference_date)
        write_parquet(ranked, out / "lists" / "ranked.parquet", index=False)
        lists = write_field_lists(ranked, batch.families, out / "lists" / "field")
        bar.advance(t)
        finished(f"{len(ranked)} visits ({int(ranked.audit.sum())} random audit) in {len(lists)} files", out / "lists")

        t = step("writing the audit report")
        write_report(champion, out / "report.html", scores=out / "scores" / "scores.parquet")
        bar.advance(t)
        finished("audit report", out / "report.html")

    print_validation(res)
    m = model.cv_metrics_
    console.print(
        f"out-of-fold AUC on unseen regencies {m['survey_auc']:.3f} ({m['survey_auc_low']:.3f}-"
        f"{m['survey_auc_high']:.3f}); OLS proxy-means baseline {m.get('baseline_ols_survey_auc', float('nan')):.3f}"
    )
    likely = Table(title="likely errors in the new batch")
    for col in ("list", "families", "mean score", "score >= 0.5"):
        likely.add_column(col, justify="right" if col != "list" else "left")
    for kind in ("inclusion", "exclusion"):
        d = s[s.error_type == kind]
        likely.add_row(kind, f"{len(d):,}", f"{d.error_score.mean():.3f}", f"{(d.error_score >= 0.5).sum():,}")
    console.print(likely)
    summary = Table(title="what the demo wrote")
    summary.add_column("output")
    summary.add_column("where")
    for what, where in done:
        summary.add_row(what, where)
    console.print(summary)
    console.print(f"Browse runs, models and plots: [bold]mlflow ui --backend-store-uri {uri}[/]", soft_wrap=True)
