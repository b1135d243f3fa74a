"""The random audit sample sized by precision: how many audit visits estimate leakage and undercoverage
within a margin, and what margin a given sample gives.

Leakage and undercoverage are estimated from the ranked visits plus the audit sample (`estimate_errors`):
the errors among the families the ranking leaves out (``R`` in a list) are ``R x p``, with ``p`` the
error rate of the list's audit sample. An audit of ``n`` of the ``R`` families estimates ``p`` within
``z sqrt(p (1 - p) / n) sqrt((R - n) / (R - 1))`` (``p = 0.5``, the worst case; ``z`` the normal quantile
of the confidence). Leakage divides by the beneficiaries ``B``, undercoverage by the eligible families
``E`` (expected from the scores: the sum of ``p_eligible``), so their margins are that times ``R / B``
and ``R / E``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..modeling import candidates

ERROR_TYPES = ("inclusion", "exclusion")
_MAX_SHARE = 0.9
_RATE = {"inclusion": "leakage", "exclusion": "undercoverage"}


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def rate_margin(n: int, population: int, confidence: float = 0.95) -> float:
    """Margin of a rate estimated from a simple random sample of ``n`` of ``population`` (p = 0.5)."""
    if n <= 0:
        return float("inf")
    fpc = np.sqrt((population - n) / (population - 1)) if population > 1 else 0.0
    return _z(confidence) * np.sqrt(0.25 / n) * fpc


def sample_size(population: int, margin: float, confidence: float = 0.95) -> int:
    """The smallest simple random sample of ``population`` that estimates a rate within ``margin``."""
    if margin <= 0:
        raise ValueError(f"the audit margin must be > 0, got {margin}.")
    if population <= 0:
        return 0
    n0 = _z(confidence) ** 2 * 0.25 / margin**2
    return int(min(population, np.ceil(n0 / (1 + (n0 - 1) / population))))


def _denominators(scores: pd.DataFrame) -> dict:
    """Beneficiaries, and the eligible families the scores expect."""
    return {
        "inclusion": int((scores["error_type"] == "inclusion").sum()),
        "exclusion": float(scores["p_eligible"].sum()),
    }


def audit_share_for_margin(
    scores: pd.DataFrame, budget: int, margin: float, *, confidence: float = 0.95, inclusion_share=0.5
) -> float:
    """The audit share of ``budget`` whose sample estimates leakage and undercoverage within ``margin``
    (see the module), counting every family of a list as left out by the ranking (a little more than
    needed), and split between the lists as the visits are (``inclusion_share``; even when None)."""
    scores = candidates(scores)
    listed = min(budget, len(scores))
    if not listed:
        return 0.0
    share = {"inclusion": 0.5 if inclusion_share is None else inclusion_share}
    share["exclusion"] = 1 - share["inclusion"]
    need = 0.0
    for t, d in _denominators(scores).items():
        left_out = int((scores["error_type"] == t).sum())
        if left_out and d > 0 and share[t] > 0:
            need = max(need, sample_size(left_out, margin * d / left_out, confidence) / share[t])
    if need > _MAX_SHARE * listed:
        warnings.warn(
            f"a budget of {budget:,} visits cannot estimate leakage and undercoverage within {margin}: the audit "
            f"sample takes {_MAX_SHARE:.0%} of it (audit.csv gives the margins it reaches).",
            stacklevel=2,
        )
    return float(min(need / listed, _MAX_SHARE))


def audit_margins(ranked: pd.DataFrame, scores: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per list: the audit visits, the families the ranking leaves out, and the margins (at
    ``confidence``) of the list's error rate among them and of the rate it estimates."""
    scores, rows = candidates(scores), []
    for t, d in _denominators(scores).items():
        mine = ranked[ranked["list"] == t]
        n = int(mine["audit"].sum())
        chosen = ~mine["audit"] & ~(mine["explore"].astype(bool) if "explore" in mine else False)
        left_out = int((scores["error_type"] == t).sum()) - int(chosen.sum())
        margin = rate_margin(n, left_out, confidence)
        rows.append(
            {
                "list": t,
                "audit_visits": n,
                "left_out": left_out,
                "error_rate_margin": margin,
                "estimates": _RATE[t],
                "margin": margin * left_out / d if d > 0 else float("nan"),
                "confidence": confidence,
            }
        )
    return pd.DataFrame(rows)
