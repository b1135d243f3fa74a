"""Figures of the audit report and the tracked runs (matplotlib, headless)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd


def _pyplot():
    """matplotlib's pyplot on the Agg backend (heavy: imported when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def close_figure(fig) -> None:
    """Free a figure drawn here."""
    _pyplot().close(fig)


def png(fig) -> str:
    """The figure as an embedded PNG <img> tag (closed after)."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def calibration_figure(model):
    """Reliability curve of the out-of-fold probabilities, per label source."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for src, rows in model.evidence_["reliability"].items():
        rel = pd.DataFrame(rows)
        ax.plot(rel.mean_predicted, rel.observed, "o-", label=f"{src} rows (out of fold)")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set_xlabel("predicted probability of eligibility")
    ax.set_ylabel("observed share eligible")
    ax.legend()
    return fig


def importance_figure(model):
    plt = _pyplot()
    imp = pd.Series(model.evidence_["importance"]).sort_values().tail(12)
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(imp) + 0.8))
    ax.barh(imp.index, imp.values, color="#3b6ea5")
    ax.set_xlabel("mean |contribution| to the log-odds of eligibility")
    return fig


def score_figure(scores: pd.DataFrame):
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=False)
    for ax, kind in zip(axes, ("inclusion", "exclusion")):
        d = scores.loc[scores["error_type"] == kind, "error_score"]
        ax.hist(d, bins=np.linspace(0, 1, 21), color="#c0504d" if kind == "inclusion" else "#3b6ea5")
        ax.set_title(f"{kind}: {len(d):,} families")
        ax.set_xlabel("error score")
    axes[0].set_ylabel("families")
    return fig
