"""Recording runs: a trained model with its evidence, and every scored batch. Recording reads the
model and the batch; it never changes them. Personal data never enters the store: only hashes,
counts, metrics, plots, the model card and the model (JSON and LightGBM text)."""

from __future__ import annotations

import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import DataQualityWarning
from ..explain import Explainer
from ..modeling import PSI_WARNING
from ..records import contract_version, file_sha256, validate_records
from ..reporting import calibration_figure, close_figure, model_card
from ..scoring import BatchSummary, read_scores
from . import _registry
from ._pyfunc import signature
from ._store import EXPERIMENT, SCORING_EXPERIMENT, Store

MODEL_ARTIFACT = "model"
_PLOT_FAMILIES = 3000
_REQUIREMENTS = (
    "pandas",
    "numpy",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "lightgbm",
    "shap",
    "mlflow",
    "pandera",
    "pydantic",
    "pyyaml",
    "fairlearn",
)


@dataclass
class TrainingRecord:
    """Where a trained model was recorded, and its registry version if registered."""

    run_id: str
    model_uri: str
    registered_name: str | None = None
    version: str | None = None

    @property
    def model_version(self) -> str:
        """What the model's scores carry: ``NAME/VERSION`` when registered, ``run:<id>`` otherwise."""
        return f"{self.registered_name}/{self.version}" if self.version else f"run:{self.run_id}"

    @property
    def uri(self) -> str:
        """The URI to load the model from."""
        return f"models:/{self.registered_name}/{self.version}" if self.version else f"runs:/{self.run_id}/model"


def git_commit() -> str | None:
    """The commit of the package's checkout, if it is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _flatten(d: dict, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def _training_tags(model, store: Store) -> dict:
    tags = {
        "rules_version": model.rules_.version,
        "contract_version": str(contract_version()),
        "package_version": __version__,
        "data_sha256": model.fingerprint_["sha256"],
        "model_hash": model.model_hash(),
        **store.tags(),
    }
    commit = git_commit()
    return {**tags, "git_commit": commit} if commit else tags


def log_training(
    model,
    families: pd.DataFrame,
    members: pd.DataFrame,
    *,
    store: Store | None = None,
    holdout: tuple | None = None,
    reference_date=None,
    register: str | None = None,
    alias: str = "challenger",
    run_name: str | None = None,
) -> TrainingRecord:
    """Record a fitted `TargetingModel` as an MLflow run and logged model; optionally register it.

    ``families`` and ``members`` are the training records (as exported or validated), of which a
    sample is validated for the SHAP plots; none of their rows is stored. ``holdout``, a labelled
    ``(families, members)`` batch the model has not seen (``(families, members, registry_records,
    community_reports)`` for a model trained with them), adds held-out metrics (``holdout.*``).
    Ages refer to ``reference_date``. ``register`` registers the model under that name (alias
    ``alias``; ``champion`` too for the first version).
    """
    store = store or Store.current()
    tags = _training_tags(model, store)
    with (
        mlflow.start_run(experiment_id=store.experiment_id(EXPERIMENT), run_name=run_name) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tmp = Path(tmp)
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten(model.config.model_dump(), "config.").items()})
        mlflow.set_tags(tags)
        mlflow.log_metrics({f"cv.{k}": float(v) for k, v in model.cv_metrics_.items() if np.isfinite(v)})
        if holdout is not None:
            names = ("registry_records", "community_reports")
            evidence = {n: v for n, v in zip(names, holdout[2:]) if v is not None}
            held = model.evaluate(*holdout[:2], reference_date=reference_date, **evidence)
            mlflow.log_metrics({f"holdout.{k}": float(v) for k, v in held.items() if np.isfinite(v)})
        _log_evidence(model, families, members, reference_date, tmp)
        model_dir = model.save(tmp / "targeting_model", model_version=f"run:{run.info.run_id}")
        with warnings.catch_warnings():  # no input example on purpose: it would store personal data
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=str(Path(__file__).with_name("_mlflow_model.py")),
                artifacts={"targeting_model": str(model_dir)},
                signature=signature(),
                pip_requirements=[f"{p}=={version(p)}" for p in _REQUIREMENTS],
                tags=tags,
            )
        record = TrainingRecord(run.info.run_id, info.model_uri)
    if register:
        name, registered = _registry.register(record.model_uri, register, alias, tags)
        record = TrainingRecord(record.run_id, record.model_uri, name, registered)
    return record


def _log_evidence(model, families, members, reference_date, tmp: Path) -> None:
    """Fingerprint, summary, rules, feature dictionary, groups, plots and the model card."""
    mlflow.log_dict(model.fingerprint_, "data/fingerprint.json")
    mlflow.log_dict(model.training_summary_, "data/training_summary.json")
    mlflow.log_dict(model.rules_.model_dump(), "config/rules.json")
    mlflow.log_text(model.builder_.feature_dictionary_.to_csv(index=False), "features/feature_dictionary.csv")
    mlflow.log_text(pd.DataFrame(model.evidence_["groups"]).to_csv(index=False), "metrics/groups.csv")
    fig = calibration_figure(model)
    mlflow.log_figure(fig, "plots/calibration.png")
    close_figure(fig)
    sample = families.sample(min(len(families), _PLOT_FAMILIES), random_state=0)
    ids = set(sample["family_id"])
    valid = validate_records(sample, members[members["family_id"].isin(ids)], reference_date=reference_date)
    X = model.features(valid.families, valid.members)
    for p in Explainer(model, language="en").plots(X, valid.families, tmp / "shap", top=4):
        mlflow.log_artifact(str(p), "plots")
    mlflow.log_text(model_card(model), "model_card.md")


def log_scoring(model, result, outputs: list | None = None, *, store: Store | None = None, run_name=None):
    """Record a scored batch as its own run linked to the model: input fingerprint, counts, score
    distribution, feature drift (PSI, warned above `PSI_WARNING`) and hashes of the written outputs.

    ``result`` is a `ScoreResult` or the `BatchSummary` of `score_files` (whose outputs are taken
    when ``outputs`` is not given). Returns the run id and the drift table.
    """
    store = store or Store.current()
    summary = result if isinstance(result, BatchSummary) else BatchSummary.of(model, result)
    outputs = summary.outputs if outputs is None else outputs
    drift = summary.drift(model)
    shifted = drift[drift["shifted"]]
    if len(shifted):
        warnings.warn(
            f"{len(shifted)} feature(s) shifted against training (PSI > {PSI_WARNING}): "
            + ", ".join(f"{r.feature} {r.psi:.2f}" for r in shifted.head(8).itertuples()),
            DataQualityWarning,
            stacklevel=2,
        )
    if isinstance(result, BatchSummary):
        s = read_scores(result.scores_path, columns=["error_type", "error_score"])
    else:
        s = result.scores
    with mlflow.start_run(experiment_id=store.experiment_id(SCORING_EXPERIMENT), run_name=run_name) as run:
        mlflow.set_tags(
            {
                "model_version": model.model_version,
                "model_uri": getattr(model, "source_uri_", ""),
                "rules_version": model.rules_.version,
                "package_version": __version__,
                **store.tags(),
            }
        )
        mlflow.log_dict(summary.to_dict(), "batch/fingerprint.json")
        mlflow.log_metrics(_scoring_metrics(summary, s, len(shifted)))
        mlflow.log_text(drift.to_csv(index=False), "batch/drift_psi.csv")
        mlflow.log_dict({_output_name(p): file_sha256(p) for p in outputs}, "batch/output_sha256.json")
    return run.info.run_id, drift


def _scoring_metrics(summary: BatchSummary, s: pd.DataFrame, n_shifted: int) -> dict:
    metrics = {
        "families_read": summary.n_read["families"],
        "members_read": summary.n_read["members"],
        "families_scored": summary.n_scored,
        "families_quarantined": summary.quarantined["families"],
        "features_shifted": n_shifted,
    }
    for kind in ("inclusion", "exclusion"):
        d = s.loc[s["error_type"] == kind, "error_score"]
        if len(d):
            metrics.update(
                {
                    f"{kind}.n": len(d),
                    f"{kind}.mean_score": float(d.mean()),
                    f"{kind}.share_score_ge_0.5": float((d >= 0.5).mean()),
                    **{f"{kind}.score_q{q}": float(d.quantile(q / 100)) for q in (10, 50, 90)},
                }
            )
    return metrics


def _output_name(path) -> str:
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.suffix == ".parquet" else path.name
