"""Targeting metrics, usable without our models: errors, ranking quality, calibration, intervals, groups.

Two ways of counting errors are reported, named plainly (see shared DOMAIN.md):
per beneficiary / per eligible family (**leakage**, **undercoverage**), and per population as in
Alatas et al. (2012) (**inclusion_error_rate**: share of the not eligible who receive;
**exclusion_error_rate**: share of the eligible who do not).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy.stats import rankdata
from sklearn.metrics import brier_score_loss

from .exceptions import SmallGroupWarning

WB_CUTOFFS = (20, 25, 30, 50, 75)


def _w(weights, n):
    return np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)


def _share(num, den):
    return float(num / den) if den > 0 else float("nan")


def targeting_errors(eligible, receives, *, weights=None) -> dict:
    """Leakage, undercoverage and the population-based error rates of a targeting outcome.

    Parameters
    ----------
    eligible, receives : array-like of bool
        Who meets the criteria (or is poor), and who receives.
    weights : array-like, optional
        Survey weights.

    Examples
    --------
    >>> e = targeting_errors([True, True, False, False], [True, False, True, False])
    >>> e["leakage"], e["undercoverage"], e["inclusion_error_rate"]
    (0.5, 0.5, 0.5)
    """
    e, r = np.asarray(eligible, dtype=bool), np.asarray(receives, dtype=bool)
    w = _w(weights, len(e))
    return {
        "leakage": _share(w[r & ~e].sum(), w[r].sum()),
        "undercoverage": _share(w[e & ~r].sum(), w[e].sum()),
        "inclusion_error_rate": _share(w[r & ~e].sum(), w[~e].sum()),
        "exclusion_error_rate": _share(w[e & ~r].sum(), w[e].sum()),
        "mistargeting_rate": _share(w[e != r].sum(), w.sum()),
        "coverage_share": _share(w[r].sum(), w.sum()),
        "eligible_share": _share(w[e].sum(), w.sum()),
    }


def _wquantile(x, w, q):
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return x[order][min(np.searchsorted(cw, q * cw[-1]), len(x) - 1)]


def pmt_accuracy_table(consumption, predicted, *, cutoffs=WB_CUTOFFS, weights=None) -> pd.DataFrame:
    """World Bank PMT audit table: accuracy, undercoverage and leakage at percentile cut-offs.

    For each cut-off the poor are those below that percentile of true consumption. A *fixed
    poverty line* targets everyone predicted below the same line; a *fixed poverty rate* targets
    the same share of families, those with the lowest predictions.
    """
    c, p = np.asarray(consumption, float), np.asarray(predicted, float)
    w = _w(weights, len(c))
    rows = []
    for q in cutoffs:
        line = _wquantile(c, w, q / 100)
        poor = c <= line
        for method, targeted in (
            ("fixed poverty line", p <= line),
            ("fixed poverty rate", p <= _wquantile(p, w, q / 100)),
        ):
            err = targeting_errors(poor, targeted, weights=w)
            rows.append(
                {
                    "cutoff_percentile": q,
                    "method": method,
                    "accuracy": _share(w[poor == targeted].sum(), w.sum()),
                    "undercoverage": err["undercoverage"],
                    "leakage": err["leakage"],
                    "targeted_share": err["coverage_share"],
                }
            )
    return pd.DataFrame(rows)


def _lowest(values, share: float, w) -> np.ndarray:
    """Mask of the lowest ``values`` making up ``share`` of the weight ``w``: a row is in while the
    weight before it plus half its own is within the share (at least one row)."""
    order = np.argsort(values, kind="stable")
    ws = w[order]
    inside = np.cumsum(ws) - ws / 2 <= share * ws.sum()
    inside[0] = True
    mask = np.zeros(len(values), dtype=bool)
    mask[order[inside]] = True
    return mask


def undercoverage_at(log_y, predicted, share: float, weights=None) -> float:
    """Share of the poorest ``share`` (by ``log_y``) not among the ``share`` with the lowest prediction.

    With survey ``weights`` both shares are of the weight (the population), and so is the count.
    """
    w = np.ones(len(log_y)) if weights is None else np.asarray(weights, dtype=np.float64)
    poor, targeted = _lowest(log_y, share, w), _lowest(predicted, share, w)
    return _share(w[poor & ~targeted].sum(), w[poor].sum())


def targeting_loss(log_y, predicted, shares=(0.2, 0.3, 0.4), weights=None) -> float:
    """Mean undercoverage at the quotas ``shares`` (equal to leakage at a fixed quota): what a
    welfare model is judged by for targeting (`WelfareModel` with ``kind="auto"``)."""
    return float(np.mean([undercoverage_at(log_y, predicted, s, weights) for s in shares]))


def top_share(score, share: float) -> np.ndarray:
    """Mask of the ``share`` highest scores (ties broken by position, stable)."""
    score = np.asarray(score, float)
    k = int(round(share * len(score)))
    mask = np.zeros(len(score), bool)
    mask[np.argsort(-score, kind="stable")[:k]] = True
    return mask


def precision_at(is_error, score, share: float) -> float:
    """Share of true errors among the top ``share`` of families by score."""
    e = np.asarray(is_error, bool)
    top = top_share(score, share)
    return _share(e[top].sum(), top.sum())


def recall_at(is_error, score, share: float) -> float:
    """Share of all true errors found in the top ``share`` of families by score."""
    e = np.asarray(is_error, bool)
    return _share(e[top_share(score, share)].sum(), e.sum())


def ranking_table(is_error, score, *, shares=(0.05, 0.10, 0.20)) -> pd.DataFrame:
    """Precision and recall at the top shares, AUC, and the base rate (precision of random visits)."""
    e = np.asarray(is_error, bool)
    rows = [{"top_share": s, "precision": precision_at(e, score, s), "recall": recall_at(e, score, s)} for s in shares]
    out = pd.DataFrame(rows)
    out["base_rate"] = e.mean() if len(e) else np.nan
    out["auc"] = auc(e, score)
    return out


def auc(y, score) -> float:
    """Area under the ROC curve (ties count a half), missing where ``y`` has one class only.

    The Mann-Whitney statistic from the scores' ranks: ``roc_auc_score``'s value without its
    checks, for the bootstrap intervals, which call it hundreds of times.

    Examples
    --------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    if not 0 < n_pos < len(y):
        return np.nan
    ranks = rankdata(np.asarray(score, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos)))


def reliability_table(y, p, *, n_bins: int = 10) -> pd.DataFrame:
    """Observed frequency against mean predicted probability in equal-width bins, with counts."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    bins = np.clip((p * n_bins).astype(int), 0, n_bins - 1)
    df = (
        pd.DataFrame({"bin": bins, "y": y, "p": p})
        .groupby("bin")
        .agg(mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    )
    df.index = [f"{b / n_bins:.1f}-{(b + 1) / n_bins:.1f}" for b in df.index]
    return df


def calibration_summary(y, p) -> dict:
    """Brier score and expected calibration error (10 bins)."""
    rel = reliability_table(y, p)
    ece = float(np.sum(rel.n * (rel.observed - rel.mean_predicted).abs()) / rel.n.sum())
    return {"brier": float(brier_score_loss(np.asarray(y, bool), p)), "ece": ece}


def bootstrap_ci(metric, *arrays, clusters=None, n_boot: int = 200, alpha: float = 0.05, seed: int = 0) -> dict:
    """Estimate and percentile interval of ``metric(*arrays)``, resampling clusters (e.g. villages).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(1000) < 0.3
    >>> ci = bootstrap_ci(np.mean, y, clusters=np.arange(1000) // 10, n_boot=100)
    >>> ci["low"] < ci["estimate"] < ci["high"]
    True
    """
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    clusters = np.arange(n) if clusters is None else np.asarray(clusters)
    uniq, inv = np.unique(clusters, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(len(uniq)))
    sizes = np.diff(np.append(starts, n))
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = order[np.concatenate([np.arange(starts[c], starts[c] + sizes[c]) for c in pick])] if len(pick) else order
        with np.errstate(all="ignore"):
            stats.append(metric(*(a[idx] for a in arrays)))
    stats = np.asarray(stats, float)
    return {
        "estimate": float(metric(*arrays)),
        "low": float(np.nanquantile(stats, alpha / 2)),
        "high": float(np.nanquantile(stats, 1 - alpha / 2)),
        "n_boot": n_boot,
    }


def feature_bins(values, n_bins: int = 10) -> dict:
    """Quantile bin edges of a feature and the share of values in each bin (missing values apart),
    the reference for `population_stability_index`."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(finite) else np.array([])
    return {"edges": edges.tolist(), "shares": _bin_shares(v, edges).tolist()}


def bin_counts(values, edges) -> np.ndarray:
    """Counts of ``values`` in the bins of `feature_bins` (last bin: missing); they add up over chunks."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.where(np.isfinite(v), np.searchsorted(np.asarray(edges), v, side="right"), len(edges) + 1)
    return np.bincount(idx, minlength=len(edges) + 2)


def _bin_shares(v, edges) -> np.ndarray:
    return bin_counts(v, edges) / max(len(v), 1)


def population_stability_index(reference: dict, values=None, eps: float = 1e-4, *, counts=None) -> float:
    """PSI of ``values`` (or of their `bin_counts`) against the bins of `feature_bins`:
    sum of (a - e) * ln(a / e).

    Rule of thumb: under 0.1 stable, 0.1-0.25 some shift, above 0.25 a shift to act on.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = feature_bins(rng.normal(size=10_000))
    >>> population_stability_index(ref, rng.normal(size=10_000)) < 0.01
    True
    >>> population_stability_index(ref, rng.normal(1, 1, size=10_000)) > 0.25
    True
    """
    if counts is None:
        counts = bin_counts(values, reference["edges"])
    e = np.clip(np.asarray(reference["shares"]), eps, None)
    a = np.clip(np.asarray(counts) / max(np.sum(counts), 1), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def standard_groups(families: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """The groups errors are reported for: province, urban/rural, female-headed, elderly-headed
    (head 60+), with a disabled member. Indexed by family_id."""
    m = members
    head = m[m["relationship"] == 1].drop_duplicates("family_id").set_index("family_id")
    ids = families["family_id"].to_numpy()
    disabled = m.groupby("family_id")["severe_disability"].any().reindex(ids, fill_value=False)
    return pd.DataFrame(
        {
            "province": families["province_code"].to_numpy(),
            "area": np.where(families["urban"].to_numpy(dtype=bool), "urban", "rural"),
            "female_headed": (head["sex"].reindex(ids) == 2).to_numpy(),
            "elderly_headed": (head["age"].reindex(ids) >= 60).to_numpy(),
            "disabled_member": disabled.to_numpy(dtype=bool),
        },
        index=pd.Index(ids, name="family_id"),
    )


def group_errors(
    eligible,
    receives,
    groups: pd.DataFrame,
    *,
    min_group_size: int = 50,
    clusters=None,
    n_boot: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Leakage and undercoverage per group (fairlearn MetricFrame), with cluster-bootstrap intervals.

    Groups with fewer than ``min_group_size`` beneficiaries or eligible families are kept, marked
    ``too_small`` and warned about (`SmallGroupWarning`), never dropped.
    """
    e, r = np.asarray(eligible, bool), np.asarray(receives, bool)
    clusters = np.arange(len(e)) if clusters is None else np.asarray(clusters)
    leak = lambda y_true, y_pred: _share((y_pred & ~y_true).sum(), y_pred.sum())  # noqa: E731
    under = lambda y_true, y_pred: _share((y_true & ~y_pred).sum(), y_true.sum())  # noqa: E731
    rows, small = [], []
    for col in groups.columns:
        values = groups[col].to_numpy()
        mf = MetricFrame(
            metrics={"leakage": leak, "undercoverage": under},
            y_true=e,
            y_pred=r,
            sensitive_features=pd.Series(values, name=col),
        )
        for level, vals in mf.by_group.iterrows():
            mask = values == level
            n_ben, n_el = int(r[mask].sum()), int(e[mask].sum())
            too_small = min(n_ben, n_el) < min_group_size
            row = {
                "group": col,
                "level": str(level),
                "families": int(mask.sum()),
                "beneficiaries": n_ben,
                "eligible": n_el,
                "leakage": vals["leakage"],
                "undercoverage": vals["undercoverage"],
                "too_small": too_small,
            }
            if too_small:
                small.append(f"{col}={level}")
                row.update(leakage_low=np.nan, leakage_high=np.nan, undercoverage_low=np.nan, undercoverage_high=np.nan)
            else:
                for name, fn in (("leakage", leak), ("undercoverage", under)):
                    ci = bootstrap_ci(fn, e[mask], r[mask], clusters=clusters[mask], n_boot=n_boot, seed=seed)
                    row.update({f"{name}_low": ci["low"], f"{name}_high": ci["high"]})
            rows.append(row)
    if small:
        warnings.warn(
            f"groups too small to judge (under {min_group_size} beneficiaries or eligible families): "
            + ", ".join(small),
            SmallGroupWarning,
            stacklevel=2,
        )
    return pd.DataFrame(rows)
