"""LightGBM parameters shared by the welfare model and the classifier: deterministic, threads chosen."""

from __future__ import annotations

import os


def threads() -> int:
    """Threads for LightGBM where none are set: ``OMP_NUM_THREADS`` (as OpenMP reads it), else the
    cores this process may use. Processes side by side (test workers, a scheduler's jobs) set it to
    share the cores; a model does not depend on it."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def lgbm_params(params: dict | None, *, objective: str, random_state: int, n_jobs: int | None) -> dict:
    """LightGBM parameters made deterministic (same data and seed give the same trees, whatever the
    number of threads: ``n_jobs``, or `threads` where None)."""
    p = dict(params or {})
    p.pop("early_stopping_rounds", None)
    return {
        **p,
        "objective": objective,
        "random_state": random_state,
        "n_jobs": n_jobs or threads(),
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
