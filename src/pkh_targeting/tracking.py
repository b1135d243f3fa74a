"""MLflow tracking and registry: every model, its data fingerprint, metrics and every scored batch.

By default runs go to an embedded store under ``models/`` (SQLite ``models/mlruns.db`` and
artifacts in ``models/artifacts``), no server needed. ``tracking_uri`` or ``MLFLOW_TRACKING_URI``
point to a server instead. Personal data never enters the store: only hashes, counts, metrics,
plots, the model card and the model (JSON and LightGBM text).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .exceptions import DataQualityWarning, SchemaError
from .schema import contract_version, load_contract

EXPERIMENT = "pkh-targeting"
SCORING_EXPERIMENT = "pkh-targeting-scoring"
MODEL_ARTIFACT = "model"


@dataclass
class TrainingRecord:
    run_id: str
    model_uri: str
    registered_name: str | None = None
    version: str | None = None


def default_tracking_uri(root="models") -> str:
    """The embedded store: ``sqlite:///<root>/mlruns.db``."""
    return f"sqlite:///{(Path(root).resolve() / 'mlruns.db').as_posix()}"


def configure(tracking_uri: str | None = None, *, root="models", local_if_down: bool = False) -> str:
    """Point MLflow at ``tracking_uri`` (or ``MLFLOW_TRACKING_URI``, or the embedded store) and check
    that it answers, so that no work is done for a store that cannot record it.

    With ``local_if_down``, a store that does not answer is replaced by the embedded store under
    ``root`` (with a warning); runs recorded there carry the tag ``intended_tracking_uri``, to be
    copied to the server later.
    """
    global _INTENDED_URI
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)
    try:
        _connect(uri)
        _INTENDED_URI = None
    except ConnectionError as exc:
        local = default_tracking_uri(root)
        if not local_if_down or uri == local:
            raise
        warnings.warn(f"{exc} Recording in the local store {local} instead.", stacklevel=2)
        _connect(local)
        _INTENDED_URI, uri = uri, local
    return uri


_INTENDED_URI: str | None = None


def _connect(uri: str) -> None:
    import mlflow

    if uri.startswith(("http://", "https://")):
        import urllib.request

        try:
            urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=10).read()
        except OSError as exc:
            raise ConnectionError(
                f"the MLflow tracking server at {uri} does not answer ({exc}). Start it, or point "
                "--tracking-uri / MLFLOW_TRACKING_URI elsewhere (or use --no-tracking or --local-if-down)."
            ) from exc
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.MlflowClient().search_experiments(max_results=1)
    except Exception as exc:  # any failure to reach the store is the same problem for the user
        raise ConnectionError(
            f"the MLflow tracking store at {uri} does not answer ({type(exc).__name__}). "
            "Start the server, or point --tracking-uri / MLFLOW_TRACKING_URI elsewhere."
        ) from exc


def _fallback_tags() -> dict:
    return {"intended_tracking_uri": _INTENDED_URI} if _INTENDED_URI else {}


def _experiment_id(name: str, root="models") -> str:
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if mlflow.get_tracking_uri().startswith("sqlite:"):
        location = (Path(root).resolve() / "artifacts").as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


# ------------------------------------------------------------------------------- records for pyfunc
def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Plain NumPy dtypes, as MLflow schemas expect: text as object, nullable integers as float."""
    df = df.copy()
    for c in df.columns:
        dtype = df[c].dtype
        if isinstance(dtype, (pd.StringDtype, pd.BooleanDtype)) or pd.api.types.is_string_dtype(dtype):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
        elif pd.api.types.is_extension_array_dtype(dtype):
            df[c] = df[c].astype("float64")
    return df


def join_records(families: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """One table for the pyfunc model: each member row with its family's columns, plain dtypes."""
    return _plain(members.merge(families, on="family_id", how="left", validate="many_to_one"))


def split_records(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inverse of `join_records`."""
    contract = load_contract()
    fam_cols = [c for c in contract["families"].columns if c in records]
    mem_cols = [c for c in contract["members"].columns if c in records]
    families = records[fam_cols].drop_duplicates("family_id").reset_index(drop=True)
    return families, records[mem_cols].reset_index(drop=True)


_MLFLOW_TYPES = {"string": "string", "int": "long", "float": "double", "bool": "boolean"}


def signature():
    """The pyfunc signature, declared from the data contracts: members joined with families in,
    the scored-batch contract out. Nullable integers travel as doubles. Parameters:
    ``reference_date`` (YYYY-MM-DD, today if empty), ``language`` and ``reasons`` as in `score`."""
    from importlib import resources

    import yaml
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    from .schema import OUTCOME_COLUMNS

    contract = load_contract()
    cols = {
        **contract["members"].columns,
        **{k: v for k, v in contract["families"].columns.items() if k != "family_id"},
    }
    inputs = [
        ColSpec(
            "double" if (c.dtype == "int" and c.nullable) else _MLFLOW_TYPES[c.dtype],
            name,
            required=not (c.nullable or name in OUTCOME_COLUMNS),
        )
        for name, c in cols.items()
    ]
    scores = yaml.safe_load(resources.files("pkh_targeting.contract").joinpath("scores.yaml").read_text("utf-8"))
    outputs = [
        ColSpec(_MLFLOW_TYPES[c["dtype"]], name, required=not c.get("nullable", False))
        for name, c in scores["columns"].items()
    ]
    params = ParamSchema(
        [
            ParamSpec("reference_date", "string", ""),
            ParamSpec("language", "string", "id"),
            ParamSpec("reasons", "string", "auto"),
        ]
    )
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs), params=params)


# ------------------------------------------------------------------------------------- training
def _flatten(d: dict, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def _model_card(model, group_table: pd.DataFrame) -> str:
    m, fp, ts = model.cv_metrics_, model.fingerprint_, model.training_summary_
    lines = [
        "# Model card: PKH targeting model",
        "",
        "## Purpose",
        "Estimates for each family the calibrated probability that it meets the PKH criteria (desil "
        f"1-{model.rules_.desil_cutoff} and at least one component under rules {model.rules_.version}), and "
        "from it the probability that a beneficiary is an inclusion error or a non-beneficiary an exclusion "
        "error. It ranks families for field verification; it decides nothing by itself.",
        "",
        "## Data",
        f"- {fp['families']:,} families, {fp['members']:,} members; data fingerprint `{fp['sha256'][:16]}...`",
        f"- labels: {ts['survey_rows']:,} surveyed families (random sample, consumption), "
        f"{ts['verification_rows']:,} field verifications (not random: weighted by inverse verification probability)",
        f"- rules `{model.rules_.version}`, data contract version {contract_version()}, package {__version__}",
        "",
        "## Accuracy (out of fold, cross-validation grouped by regency)",
        "| label source | AUC (95% CI) | Brier | ECE | rows |",
        "|---|---|---|---|---|",
    ]
    for src in ("survey", "verification"):
        if f"{src}_rows" in m:
            auc, low, high = (m.get(f"{src}_auc{k}", float("nan")) for k in ("", "_low", "_high"))
            lines.append(
                f"| {src} | {auc:.3f} ({low:.3f}-{high:.3f}) | {m[f'{src}_brier']:.3f} | {m[f'{src}_ece']:.3f} "
                f"| {m[f'{src}_rows']:,} |"
            )
    lines += [
        "",
        "Survey rows are a random sample: their figures are the honest ones. Verification rows are "
        "biased toward beneficiaries and complaints.",
        "",
        "## Groups (out of fold, survey and verification rows)",
        group_table.to_markdown(index=False) if len(group_table) else "(no groups)",
        "",
        "## Limits",
        "- Consumption is deflated by the urban/rural poverty line only; regional price differences within an "
        "area type are not modelled.",
        "- Field verification samples chosen on unobserved grounds (e.g. complaints) are only partly corrected.",
        "- Groups marked too small cannot be judged.",
        "",
        "## Intended use",
        "Prioritising home visits within a verification budget, with the random audit share kept so that error "
        "rates can be estimated without bias. Not for removing or adding beneficiaries without a visit.",
    ]
    return "\n".join(lines) + "\n"


def log_training(
    model,
    families: pd.DataFrame,
    members: pd.DataFrame,
    *,
    holdout: tuple | None = None,
    reference_date=None,
    register: str | None = None,
    alias: str = "challenger",
    run_name: str | None = None,
    root="models",
) -> TrainingRecord:
    """Record a fitted `TargetingModel` as an MLflow run and logged model; optionally register it.

    ``families`` and ``members`` are the training records (valid rows), used for per-group
    results and the SHAP plots; none of their rows is stored. ``holdout``, a labelled
    ``(families, members)`` batch the model has not seen, adds held-out metrics (``holdout.*``;
    ages as of ``reference_date``).
    """
    import mlflow

    from .explain import Explainer
    from .report import calibration_figure

    exp = _experiment_id(EXPERIMENT, root)
    with mlflow.start_run(experiment_id=exp, run_name=run_name) as run, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten(model.config.model_dump(), "config.").items()})
        tags = {
            "rules_version": model.rules_.version,
            "contract_version": str(contract_version()),
            "package_version": __version__,
            "data_sha256": model.fingerprint_["sha256"],
            "model_hash": model.model_hash(),
            **_fallback_tags(),
        }
        commit = git_commit()
        if commit:
            tags["git_commit"] = commit
        mlflow.set_tags(tags)
        mlflow.log_metrics({f"cv.{k}": float(v) for k, v in model.cv_metrics_.items() if np.isfinite(v)})
        if holdout is not None:
            held = model.evaluate(*holdout, reference_date=reference_date)
            mlflow.log_metrics({f"holdout.{k}": float(v) for k, v in held.items() if np.isfinite(v)})
        mlflow.log_dict(model.fingerprint_, "data/fingerprint.json")
        mlflow.log_dict(model.training_summary_, "data/training_summary.json")
        mlflow.log_dict(model.rules_.model_dump(), "config/rules.json")
        mlflow.log_text(model.builder_.feature_dictionary_.to_csv(index=False), "features/feature_dictionary.csv")
        groups = pd.DataFrame(model.evidence_["groups"])
        mlflow.log_text(groups.to_csv(index=False), "metrics/groups.csv")
        fig = calibration_figure(model)
        mlflow.log_figure(fig, "plots/calibration.png")
        __import__("matplotlib.pyplot").pyplot.close(fig)
        sample = families.sample(min(len(families), 3000), random_state=0)
        X = model.features(sample, members[members["family_id"].isin(sample["family_id"])])
        for p in Explainer(model, language="en").plots(X, sample, tmp / "shap", top=4):
            mlflow.log_artifact(str(p), "plots")
        mlflow.log_text(_model_card(model, groups), "model_card.md")
        model.registered_version_ = f"run:{run.info.run_id}"
        model_dir = model.save(tmp / "targeting_model")
        with warnings.catch_warnings():  # no input example on purpose: it would store personal data
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT,
                python_model=str(Path(__file__).with_name("_mlflow_model.py")),
                artifacts={"targeting_model": str(model_dir)},
                signature=signature(),
                pip_requirements=_requirements(),
                tags=tags,
            )
        record = TrainingRecord(run.info.run_id, info.model_uri)
    if register:
        record = _register(record, register, alias, tags)
    if register:
        model.registered_version_ = f"{record.registered_name}/{record.version}"
    return record


def _requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = [
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
    ]
    return [f"{p}=={version(p)}" for p in pkgs]


def _register(record: TrainingRecord, name: str, alias: str, tags: dict) -> TrainingRecord:
    import mlflow

    client = mlflow.MlflowClient()
    mv = mlflow.register_model(record.model_uri, name, tags=tags)
    aliases = {alias}
    try:
        client.get_model_version_by_alias(name, "champion")
    except Exception:  # no champion yet: the first version becomes it
        aliases.add("champion")
    for a in sorted(aliases):
        client.set_registered_model_alias(name, a, mv.version)
    return TrainingRecord(record.run_id, record.model_uri, name, str(mv.version))


# -------------------------------------------------------------------------------------- loading
def load_model(uri: str):
    """A `TargetingModel` from a model folder, ``models:/NAME@alias``, ``models:/NAME/VERSION`` or
    ``runs:/RUN_ID/model``. Loads JSON and LightGBM text only; nothing is unpickled or executed."""
    import mlflow

    from .modeling import TargetingModel

    if "://" not in uri and ":/" not in uri:
        return TargetingModel.load(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        found = next(local.rglob("model.json"), None)
        if found is None:
            raise FileNotFoundError(f"{uri} holds no pkh-targeting model (no model.json in its artifacts).")
        model = TargetingModel.load(found.parent)
    model.registered_version_ = _version_label(uri)
    model.source_uri_ = uri
    return model


def _version_label(uri: str) -> str:
    import mlflow

    if uri.startswith("models:/") and "@" in uri:
        name, alias = uri[len("models:/") :].split("@", 1)
        return f"{name}/{mlflow.MlflowClient().get_model_version_by_alias(name, alias).version}"
    return uri.removeprefix("models:/")


# -------------------------------------------------------------------------------------- scoring
def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log_scoring(
    model, result, outputs: list | None = None, *, run_name: str | None = None, root="models"
) -> tuple[str, pd.DataFrame]:
    """Record a scored batch as its own run linked to the model: input fingerprint, counts, score
    distribution, feature drift (PSI, warned above 0.25) and hashes of the written outputs.

    ``result`` is a `ScoreResult` or the `BatchSummary` of `batch.score_files` (whose outputs are
    taken when ``outputs`` is not given).
    """
    import mlflow

    from .batch import BatchSummary, read_scores
    from .modeling._targeting import PSI_WARNING

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
    with mlflow.start_run(experiment_id=_experiment_id(SCORING_EXPERIMENT, root), run_name=run_name) as run:
        mlflow.set_tags(
            {
                "model_version": model.model_version,
                "model_uri": getattr(model, "source_uri_", ""),
                "rules_version": model.rules_.version,
                "package_version": __version__,
                **_fallback_tags(),
            }
        )
        mlflow.log_dict(summary.to_dict(), "batch/fingerprint.json")
        metrics = {
            "families_read": summary.n_read["families"],
            "members_read": summary.n_read["members"],
            "families_scored": summary.n_scored,
            "families_quarantined": summary.quarantined["families"],
            "features_shifted": int(len(shifted)),
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
        mlflow.log_metrics(metrics)
        mlflow.log_text(drift.to_csv(index=False), "batch/drift_psi.csv")
        mlflow.log_dict({_output_name(p): file_sha256(p) for p in outputs}, "batch/output_sha256.json")
    return run.info.run_id, drift


def _output_name(path) -> str:
    path = Path(path)
    return f"{path.parent.name}/{path.name}" if path.parent.suffix == ".parquet" else path.name


def check_batch(model, rules_version: str | None) -> None:
    """Refuse a batch whose stated rules version differs from the model's."""
    if rules_version and rules_version != model.rules_.version:
        raise SchemaError(
            f"the batch is for rules {rules_version!r} but the model applies {model.rules_.version!r}; "
            "train a model under those rules or score with the matching model."
        )
