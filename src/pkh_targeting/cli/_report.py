"""``report``: the audit report of a model and, optionally, a scored batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..reporting import write_report
from ..tracking import load_model
from ._app import TrackingUri, console, friendly, store_for


@friendly
def report(
    model: Annotated[str, typer.Option(help="Model folder, or MLflow URI such as models:/NAME@champion.")],
    scores: Annotated[
        Path | None, typer.Option(help="scores.parquet written by score: adds the batch's counts and drift.")
    ] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    tracking_uri: TrackingUri = None,
):
    """Write the audit report: a self-contained HTML page on the model and, optionally, a scored batch."""
    store_for(model, tracking_uri, record=False)
    loaded = load_model(model)
    with console.status("writing the audit report"):
        path = write_report(loaded, out, scores=scores)
    console.print(f"audit report written to [bold]{path}[/]")
