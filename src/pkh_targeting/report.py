"""The audit report: one self-contained HTML page on a model and, optionally, a scored batch.

For office leadership: what the model does, how accurate it is against the proxy-means baseline
(with intervals), errors by group, calibration, the main reasons behind scores, the batch's counts
and drift, and every version an audit needs. Figures are embedded; the page loads nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .schema import contract_version

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#1d2733;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #e3e8ee;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #d5dbe1;padding:.3em .6em}
th{background:#f3f6f9;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#5a6776;font-size:.9em}.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em}
.kpi{display:inline-block;margin:.3em 1.5em .3em 0}.kpi b{display:block;font-size:1.5em}
img{max-width:100%}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(df: pd.DataFrame, floats: str = "{:.3f}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, (float, np.floating)):
                cells.append(f'<td class="n">{"" if np.isnan(v) else floats.format(v)}</td>')
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                cells.append(f'<td class="n">{v:,}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def calibration_figure(model):
    """Reliability curve of the out-of-fold probabilities, per label source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for src, rows in model.evidence_["reliability"].items():
        rel = pd.DataFrame(rows)
        ax.plot(rel.mean_predicted, rel.observed, "o-", label=f"{src} rows (out of fold)")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set_xlabel("predicted probability of eligibility")
    ax.set_ylabel("observed share eligible")
    ax.legend()
    return fig


def _importance_figure(model):
    import matplotlib.pyplot as plt

    imp = pd.Series(model.evidence_["importance"]).sort_values().tail(12)
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(imp) + 0.8))
    ax.barh(imp.index, imp.values, color="#3b6ea5")
    ax.set_xlabel("mean |contribution| to the log-odds of eligibility")
    return fig


def _score_figure(scores: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=False)
    for ax, kind in zip(axes, ("inclusion", "exclusion")):
        d = scores.loc[scores["error_type"] == kind, "error_score"]
        ax.hist(d, bins=np.linspace(0, 1, 21), color="#c0504d" if kind == "inclusion" else "#3b6ea5")
        ax.set_title(f"{kind}: {len(d):,} families")
        ax.set_xlabel("error score")
    axes[0].set_ylabel("families")
    return fig


def _accuracy_section(model) -> str:
    m = model.cv_metrics_
    rows = []
    for name, key in (("TargetingModel", "survey"), ("OLS proxy-means test (baseline)", "baseline_ols_survey")):
        if f"{key}_auc" in m:
            rows.append(
                {
                    "method": name,
                    "AUC": m[f"{key}_auc"],
                    "95% interval": f"{m[f'{key}_auc_low']:.3f} - {m[f'{key}_auc_high']:.3f}",
                    "Brier": m.get(f"{key}_brier", np.nan),
                }
            )
    out = [
        "<h2>Accuracy against the proxy-means baseline</h2>",
        "<p>Out of fold, with cross-validation grouped by regency: every figure is measured on regencies the "
        "model did not see. Labels are the surveyed families (a random sample with measured consumption). "
        "AUC is the chance that a truly eligible family is ranked above an ineligible one; Brier is the mean "
        "squared error of the probability (lower is better). Intervals are bootstrapped by regency.</p>",
        _table(pd.DataFrame(rows)) if rows else '<p class="warn">No surveyed families in training.</p>',
    ]
    if "verification_auc" in m:
        out.append(
            f'<p class="note">On field verifications (not a random sample): AUC {m["verification_auc"]:.3f} '
            f"({m['verification_auc_low']:.3f} - {m['verification_auc_high']:.3f}).</p>"
        )
    return "\n".join(out)


def _batch_section(scores_path) -> str:
    from .batch import read_scores

    scores_path = Path(scores_path)
    s = read_scores(scores_path)
    manifest = json.loads((scores_path / "_batch.json").read_text()) if scores_path.is_dir() else {}
    read = manifest.get("read", {"families": len(s)})
    q = manifest.get("quarantined_rows", {"families": 0, "members": 0})
    kpis = [
        ("families read", read.get("families", len(s))),
        ("scored", len(s)),
        ("families quarantined", q.get("families", 0)),
        ("likely inclusion errors (score >= 0.5)", int(((s.error_type == "inclusion") & (s.error_score >= 0.5)).sum())),
        ("likely exclusion errors (score >= 0.5)", int(((s.error_type == "exclusion") & (s.error_score >= 0.5)).sum())),
    ]
    out = [
        "<h2>The scored batch</h2>",
        "".join(f'<span class="kpi"><b>{v:,}</b>{html.escape(k)}</span>' for k, v in kpis),
        _png(_score_figure(s)),
    ]
    reasons = s["reasons"].dropna().str.split(";").explode().str.strip()
    if len(reasons):
        top = reasons.value_counts().head(10).rename_axis("reason").reset_index(name="families")
        out += ["<h3>Most frequent reasons in this batch</h3>", _table(top)]
    by_district = (
        s.assign(likely=s.error_score >= 0.5)
        .groupby(["regency_code", "error_type"])["likely"]
        .agg(["size", "sum"])
        .reset_index()
        .rename(columns={"size": "families", "sum": "score >= 0.5"})
    )
    out += ["<h3>By regency</h3>", _table(by_district.astype({"score >= 0.5": "int64"}))]
    drift = pd.DataFrame(manifest.get("drift", []))
    if len(drift):
        shifted = drift[drift["psi"] > 0.25]
        out.append("<h3>Drift of the batch against training</h3>")
        if len(shifted):
            out.append(
                f'<p class="warn">{len(shifted)} feature(s) shifted (PSI above 0.25): scores for this batch '
                "should be read with care, and the model retrained on recent data.</p>"
            )
        else:
            out.append("<p>No feature shifted beyond PSI 0.25 (rule of thumb: under 0.1 stable).</p>")
        out.append(_table(drift.head(10)[["feature", "psi"]]))
    return "\n".join(out)


def build_report(model, scores=None) -> str:
    """The audit report as a self-contained HTML page (figures embedded as PNG).

    Parameters
    ----------
    model : TargetingModel
        Fitted model (folder loaded with `TargetingModel.load` or `tracking.load_model`).
    scores : path, optional
        ``scores.parquet`` written by `batch.score_files` (its ``_batch.json`` gives counts and drift).
    """
    ev, ts, fp = model.evidence_, model.training_summary_, model.fingerprint_
    rules = model.rules_
    groups = pd.DataFrame(ev.get("groups", []))
    body = [
        "<h1>PKH targeting model: audit report</h1>",
        f'<p class="note">Model {html.escape(model.model_version)} &middot; rules {html.escape(rules.version)} '
        f"&middot; generated {dt.date.today().isoformat()}</p>",
        "<h2>What the model does</h2>",
        f"<p>For every family in the registry it estimates the probability that the family meets the PKH "
        f"criteria: welfare in desil 1-{rules.desil_cutoff} and at least one PKH component under rules "
        f"<b>{html.escape(rules.version)}</b>. For a beneficiary, one minus that probability is the chance that "
        "it is an <b>inclusion error</b> (receives PKH but is not eligible); for a non-beneficiary, the "
        "probability itself is the chance of an <b>exclusion error</b> (eligible but not receiving). Families are "
        "ranked for home visits by these scores within the office's budget, with a random audit share. "
        "The model decides nothing alone: every change of status follows a visit.</p>",
        f"<p>Trained on {ts['families']:,} families ({ts['survey_rows']:,} with surveyed consumption, "
        f"{ts['verification_rows']:,} field verifications), {ts['trees']} trees.</p>",
        _accuracy_section(model),
        "<h2>Errors by group</h2>",
        "<p>Out of fold, by group; groups with fewer than 100 labelled families are marked too small to judge.</p>",
        _table(groups) if len(groups) else "<p>(no groups)</p>",
    ]
    if ev.get("reliability"):
        body += [
            "<h2>Calibration</h2>",
            "<p>When the model says 30%, about 30% of such families should be eligible: points near the diagonal.</p>",
            _png(calibration_figure(model)),
        ]
    if ev.get("importance"):
        body += [
            "<h2>Main reasons behind the scores</h2>",
            "<p>Mean size of each questionnaire item's contribution (SHAP) to the model's log-odds of eligibility, "
            "on training families.</p>",
            _png(_importance_figure(model)),
        ]
    if scores is not None:
        body.append(_batch_section(scores))
    versions = pd.DataFrame(
        {
            "item": ["model", "model hash", "rules", "data contract", "package", "training data fingerprint"],
            "value": [
                model.model_version,
                model.model_hash(),
                rules.version,
                str(contract_version()),
                __version__,
                fp["sha256"][:16] + "...",
            ],
        }
    )
    body += [
        "<h2>Versions</h2>",
        _table(versions),
        '<p class="note">This report holds no personal data: no names, addresses or NIK.</p>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>PKH targeting: audit report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(model, out, scores=None) -> Path:
    """Write `build_report` to ``out`` atomically."""
    from .outputs import atomic_path

    with atomic_path(out) as tmp:
        tmp.write_text(build_report(model, scores), encoding="utf-8")
    return Path(out)
