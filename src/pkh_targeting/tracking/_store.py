"""The MLflow tracking store: the embedded default under ``models/``, or a server that must answer."""

from __future__ import annotations

import os
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mlflow

EXPERIMENT = "pkh-targeting"
SCORING_EXPERIMENT = "pkh-targeting-scoring"


def default_tracking_uri(root="models") -> str:
    """The embedded store: ``sqlite:///<root>/mlruns.db``."""
    return f"sqlite:///{(Path(root).resolve() / 'mlruns.db').as_posix()}"


@dataclass(frozen=True)
class Store:
    """Where runs are recorded: ``uri``; ``intended_uri`` when that server did not answer and the
    embedded store under ``root`` stands in (runs are tagged with it, to be copied later)."""

    uri: str
    root: Path = field(default=Path("models"))
    intended_uri: str | None = None

    @classmethod
    def current(cls, root="models") -> Store:
        """The store MLflow points at now."""
        return cls(mlflow.get_tracking_uri(), Path(root))

    def tags(self) -> dict:
        """Tags every run recorded here carries."""
        return {"intended_tracking_uri": self.intended_uri} if self.intended_uri else {}

    def experiment_id(self, name: str) -> str:
        """The experiment ``name``, created if new (artifacts next to an embedded store)."""
        exp = mlflow.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (self.root.resolve() / "artifacts").as_uri()
        return mlflow.create_experiment(name, artifact_location=location)


def configure(tracking_uri: str | None = None, *, root="models", local_if_down: bool = False) -> Store:
    """Point MLflow at ``tracking_uri`` (or ``MLFLOW_TRACKING_URI``, or the embedded store) and check
    that it answers, so that no work is done for a store that cannot record it.

    With ``local_if_down``, a store that does not answer is replaced by the embedded store under
    ``root`` (with a warning); the returned `Store` says which server was meant.
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)
    try:
        _connect(uri)
        return Store(uri, Path(root))
    except ConnectionError as exc:
        local = default_tracking_uri(root)
        if not local_if_down or uri == local:
            raise
        warnings.warn(f"{exc} Recording in the local store {local} instead.", stacklevel=2)
        _connect(local)
        return Store(local, Path(root), intended_uri=uri)


def _connect(uri: str) -> None:
    if uri.startswith(("http://", "https://")):
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
