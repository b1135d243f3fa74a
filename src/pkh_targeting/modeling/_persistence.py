"""Saving and loading a `TargetingModel`: JSON and LightGBM text, never pickles."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np

from .._version import __version__
from ..config import TrainConfig
from ..exceptions import SchemaError
from ..features import PMTFeatureBuilder, ReportFeatures
from ..outputs import atomic_path
from ..records import contract_version
from ..records.contract import readable_contract
from ..rules import Rules
from ._linked import RegistryEvidence
from ._welfare_state import welfare_from_state, welfare_state

FORMAT = "pkh-targeting-model/1"


def save(model, path, model_version: str | None) -> Path:
    """Write ``model`` to the folder ``path``: ``model.json`` (with the trained linkage model, if any)
    and ``classifier.txt``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "package_version": __version__,
        "contract_version": contract_version(),
        "config": model.config.model_dump(),
        "rules": model.rules_.model_dump(),
        "threshold": model.threshold_,
        "builder": model.builder_.get_state(),
        "feature_names": model.feature_names_,
        "calibrator": model.calibrator_,
        "welfare": welfare_state(model.welfare_) if model.welfare_ else None,
        "welfare_sigma": model.welfare_sigma_,
        "training_summary": model.training_summary_,
        "fingerprint": model.fingerprint_,
        "cv_metrics": model.cv_metrics_,
        "feature_bins": model.feature_bins_,
        "evidence": model.evidence_,
        "registry": model.registry_.get_state() if model.registry_ is not None else None,
        "community_reports": {"reliability": model.reports_.reliability} if model.reports_ is not None else None,
        "model_hash": model.model_hash(),
        "model_version": model_version,
    }
    with atomic_path(path / "classifier.txt") as tmp:
        tmp.write_text(model.classifier_.model_to_string())
    with atomic_path(path / "model.json") as tmp:
        tmp.write_text(json.dumps(state, indent=1, default=_json_default))
    return path


def load(cls, path):
    """The ``cls`` instance saved in the folder ``path``."""
    path = Path(path)
    if not (path / "model.json").is_file():
        raise FileNotFoundError(f"{path}: not a pkh-targeting model folder (no model.json).")
    state = json.loads((path / "model.json").read_text())
    if not readable_contract(state.get("contract_version")):
        raise SchemaError(
            f"model {path} was trained on data contract version {state.get('contract_version')}, "
            f"this package reads versions 1 to {contract_version()}."
        )
    model = cls(TrainConfig.model_validate(state["config"]))
    model.rules_ = Rules.model_validate(state["rules"])
    model.threshold_ = state["threshold"]
    model.builder_ = PMTFeatureBuilder.from_state(state["builder"])
    model.feature_names_ = state["feature_names"]
    model.calibrator_ = state["calibrator"]
    model.welfare_ = welfare_from_state(state["welfare"]) if state["welfare"] else None
    model.welfare_sigma_ = state["welfare_sigma"]
    model.training_summary_ = state["training_summary"]
    model.cv_metrics_ = state["cv_metrics"]
    model.feature_bins_ = state["feature_bins"]
    model.evidence_ = state.get("evidence") or {}  # absent from models saved before 0.1.0's report
    model.fingerprint_ = state["fingerprint"]
    model.registry_ = RegistryEvidence.from_state(state["registry"]) if state.get("registry") else None
    reports = state.get("community_reports")  # True in models saved before the reliability scores
    model.reports_ = (
        ReportFeatures(reports.get("reliability") if isinstance(reports, dict) else None) if reports else None
    )
    model.classifier_ = lgb.Booster(model_str=(path / "classifier.txt").read_text())
    if state.get("model_version"):
        model.registered_version_ = state["model_version"]
    return model


def _json_default(o):
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
