"""The model registry: versions with aliases (champion, challenger), and loading a model by URI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow

from ..modeling import TargetingModel


def register(model_uri: str, name: str, alias: str, tags: dict) -> tuple[str, str]:
    """Register ``model_uri`` as a new version of ``name`` with ``alias`` (and ``champion`` if the
    name has none yet); returns the name and the version."""
    client = mlflow.MlflowClient()
    mv = mlflow.register_model(model_uri, name, tags=tags)
    aliases = {alias}
    try:
        client.get_model_version_by_alias(name, "champion")
    except Exception:  # no champion yet: the first version becomes it
        aliases.add("champion")
    for a in sorted(aliases):
        client.set_registered_model_alias(name, a, mv.version)
    return name, str(mv.version)


def is_store_uri(uri: str) -> bool:
    """Whether ``uri`` names a model in a tracking store rather than a folder."""
    return str(uri).startswith(("models:/", "runs:/"))


def load_model(uri) -> TargetingModel:
    """A `TargetingModel` from a model folder, ``models:/NAME@alias``, ``models:/NAME/VERSION`` or
    ``runs:/RUN_ID/model``. Loads JSON and LightGBM text only; nothing is unpickled or executed."""
    uri = str(uri)
    if "://" not in uri and ":/" not in uri:
        return TargetingModel.load(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        found = next(local.rglob("model.json"), None)
        if found is None:
            raise FileNotFoundError(f"{uri} holds no pkh-targeting model (no model.json in its artifacts).")
        return TargetingModel.load(found.parent, model_version=_version_label(uri), source_uri=uri)


def _version_label(uri: str) -> str:
    if uri.startswith("models:/") and "@" in uri:
        name, alias = uri[len("models:/") :].split("@", 1)
        return f"{name}/{mlflow.MlflowClient().get_model_version_by_alias(name, alias).version}"
    return uri.removeprefix("models:/")
