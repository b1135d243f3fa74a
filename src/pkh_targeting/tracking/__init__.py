"""Tracking and audit in MLflow: the store, training and scoring runs, the registry and the pyfunc model.

By default runs go to an embedded store under ``models/`` (SQLite ``models/mlruns.db`` and
artifacts in ``models/artifacts``), no server needed. ``tracking_uri`` or ``MLFLOW_TRACKING_URI``
point to a server instead.
"""

from ._pyfunc import join_records, signature, split_records
from ._registry import is_store_uri, load_model, register
from ._runs import TrainingRecord, git_commit, log_scoring, log_training
from ._store import EXPERIMENT, SCORING_EXPERIMENT, Store, configure, default_tracking_uri

__all__ = [
    "EXPERIMENT",
    "SCORING_EXPERIMENT",
    "Store",
    "TrainingRecord",
    "configure",
    "default_tracking_uri",
    "git_commit",
    "is_store_uri",
    "join_records",
    "load_model",
    "log_scoring",
    "log_training",
    "register",
    "signature",
    "split_records",
]
