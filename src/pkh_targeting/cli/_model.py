"""``train`` and ``score``: a model from labelled records, and scores of a new batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from .. import jobs
from ..modeling import REASONS_SHARE
from ..scoring import CHUNK_FAMILIES
from ._app import (
    CommunityReports,
    LocalIfDown,
    NoTracking,
    ReferenceDate,
    RegistryRecords,
    TrackingUri,
    as_date,
    console,
    friendly,
    print_path,
    print_table,
    print_validation,
    progress,
    store_for,
    warnings_to_stderr,
)


@friendly
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
    registry_records: RegistryRecords = None,
    community_reports: CommunityReports = None,
    holdout_registry_records: Annotated[
        Path | None, typer.Option(help="Records of other registries about the held-out families' members.")
    ] = None,
    holdout_community_reports: Annotated[
        Path | None, typer.Option(help="Community reports about the held-out families.")
    ] = None,
    tracking_uri: TrackingUri = None,
    no_tracking: NoTracking = False,
    local_if_down: LocalIfDown = False,
    reference_date: ReferenceDate = None,
    cases: Annotated[
        str | None,
        typer.Option(help="A case ledger (SQLite file or URL): its verified results replace verified_eligible."),
    ] = None,
):
    """Train the targeting model; the last line printed is the model's folder, or its MLflow URI."""
    store = store_for(None, tracking_uri, record=not no_tracking, local_if_down=local_if_down)
    holdout = (holdout_families, holdout_members) if holdout_families and holdout_members else None
    if holdout:
        holdout = (*holdout, holdout_registry_records, holdout_community_reports)
    with console.status("training (grouped cross-validation by regency) and recording the run"):
        done = jobs.train(
            families,
            members,
            config=config,
            out=out,
            store=store,
            register=register,
            holdout=holdout,
            reference_date=as_date(reference_date),
            registry_records=registry_records,
            community_reports=community_reports,
            cases=cases,
        )
    model = done.model
    rows = [
        (k, f"{v:.3f}" if isinstance(v, float) else v)
        for k, v in {**model.training_summary_, **model.cv_metrics_}.items()
    ]
    print_table("training", ["measure", "value"], rows)
    print_path(f"model saved to {done.path.resolve()}")
    if done.record is None:
        print_path(done.path.resolve())
    else:
        print_path(f"MLflow run {done.record.run_id} in {store.uri}")
        print_path(done.record.uri)


Reasons = Annotated[
    Literal["auto", "all", "none"],
    typer.Option(
        help="Families given reasons: auto (those a list of up to --reasons-share of the candidates can "
        "reach, per district or village), all, or none (fastest; rank --model explains the listed families later)."
    ),
]
ReasonsShare = Annotated[
    float,
    typer.Option(
        min=0.0, max=1.0, help="With --reasons auto: the largest budget explained, as a share of the candidates."
    ),
]


@friendly
def score(
    model: Annotated[str, typer.Option(help="Model folder, or MLflow URI such as models:/NAME@champion.")],
    families: Annotated[Path, typer.Option(help="Families table (.parquet file or folder, .csv, .xlsx).")],
    members: Annotated[Path, typer.Option(help="Members table.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("scores"),
    registry_records: RegistryRecords = None,
    community_reports: CommunityReports = None,
    rules: Annotated[
        str | None, typer.Option(help="Rules version the batch is for; refused if the model's differs.")
    ] = None,
    language: Annotated[str, typer.Option(help="Language of the reasons: id or en.")] = "id",
    reasons: Reasons = "auto",
    reasons_share: ReasonsShare = REASONS_SHARE,
    chunk_size: Annotated[
        int, typer.Option(min=1000, help="Families per chunk: memory grows with it, not with the batch.")
    ] = CHUNK_FAMILIES,
    jobs_: Annotated[
        int,
        typer.Option(
            "--jobs",
            help="Chunks scored at once, each in its own process; -1: one per core. Memory grows with jobs x "
            "chunk size (about 0.6 GB per job with chunks of 100,000 families).",
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
    """Score a batch: write scores.parquet (a folder of parts) and quarantine.csv (with registry records,
    links.parquet and evidence_quarantine.csv too), and record the batch in MLflow."""
    store = store_for(model, tracking_uri, record=not no_tracking, local_if_down=local_if_down)
    options = dict(reference_date=as_date(reference_date), language=language, reasons=reasons)
    options.update(reasons_share=reasons_share)
    options.update(registry_records=registry_records, community_reports=community_reports)
    with progress() as bar, warnings_to_stderr():
        task = bar.add_task(f"scoring on {engine}", total=None)
        if engine == "pandas":
            options.update(
                chunk_size=chunk_size,
                n_jobs=jobs_,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        done = jobs.score(
            model, families, members, out, store=store, rules=rules, engine=engine, scheduler=scheduler, **options
        )
    print_validation(done.summary)
    console.print(f"scored {done.summary.n_scored:,} families with {done.model.model_version}")
    if done.run_id:
        console.print(f"batch recorded as MLflow run {done.run_id}")
    console.print(f"scores.parquet and quarantine.csv written to [bold]{out}[/]")
