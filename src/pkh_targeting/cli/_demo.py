"""``demo``: the whole job end to end on a synthetic registry (`jobs.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import jobs
from ..scoring import read_scores
from ._app import console, friendly, print_table, print_validation, progress, warnings_to_stderr


@friendly
def demo(
    families: Annotated[
        int, typer.Option("--families", "-n", min=1000, help="Families in the training registry.")
    ] = 20_000,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
):
    """Run the whole job end to end on a synthetic registry: generate, validate, train and register,
    score a new batch, rank it for 200 visits, write the lists and the audit report."""
    with progress() as bar, warnings_to_stderr():
        tasks = []

        def step(description: str) -> None:
            if tasks:
                bar.update(tasks[-1], completed=1)
            tasks.append(bar.add_task(description, total=1))

        done = jobs.demo(families, out, seed=seed, step=step)
        bar.update(tasks[-1], completed=1)
    print_validation(done.validation)
    m = done.trained.model.cv_metrics_
    console.print(
        f"out-of-fold AUC on unseen regencies {m['survey_auc']:.3f} ({m['survey_auc_low']:.3f}-"
        f"{m['survey_auc_high']:.3f}); OLS proxy-means baseline {m.get('baseline_ols_survey_auc', float('nan')):.3f}"
    )
    scores = read_scores(done.scored.summary.scores_path, columns=["error_type", "error_score"])
    rows = [
        (kind, f"{len(d):,}", f"{d.error_score.mean():.3f}", f"{(d.error_score >= 0.5).sum():,}")
        for kind, d in ((k, scores[scores.error_type == k]) for k in ("inclusion", "exclusion"))
    ]
    print_table("likely errors in the new batch", ["list", "families", "mean score", "score >= 0.5"], rows)
    print_table("what the demo wrote", ["output", "where"], done.outputs, right_from=2)
    console.print(
        f"Browse runs, models and plots: [bold]mlflow ui --backend-store-uri {done.store.uri}[/]", soft_wrap=True
    )
