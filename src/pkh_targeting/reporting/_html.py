"""The audit report: one self-contained HTML page on a model and, optionally, a scored batch.

For office leadership: what the model does, how accurate it is against the proxy-means baseline
(with intervals), errors by group, calibration, the main reasons behind scores, the batch's counts
and drift, and every version an audit needs. Figures are embedded; the page loads nothing.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..modeling import PSI_WARNING
from ..outputs import atomic_path
from ..scoring import read_manifest, read_scores
from ._figures import calibration_figure, importance_figure, png, score_figure
from ._tables import accuracy_table, versions_table

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


def _accuracy_section(model) -> str:
    table = accuracy_table(model)
    return "\n".join(
        [
            "<h2>Accuracy against the proxy-means baseline</h2>",
            "<p>Out of fold, with cross-validation grouped by regency: every figure is measured on regencies the "
            "model did not see. The baseline is scored on the same surveyed families and folds. Surveyed families "
            "are a random sample with measured consumption; field verifications are not random (offices verify "
            "beneficiaries and complaints more). AUC is the chance that a truly eligible family is ranked above an "
            "ineligible one; Brier is the mean squared error of the probability and ECE its calibration error "
            "(lower is better). Intervals are bootstrapped by regency.</p>",
            _table(table) if len(table) else '<p class="warn">No labelled families in training.</p>',
        ]
    )


def _batch_section(scores_path) -> str:
    s = read_scores(scores_path)
    manifest = read_manifest(scores_path)
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
        png(score_figure(s)),
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
        shifted = drift[drift["psi"] > PSI_WARNING]
        out.append("<h3>Drift of the batch against training</h3>")
        if len(shifted):
            out.append(
                f'<p class="warn">{len(shifted)} feature(s) shifted (PSI above {PSI_WARNING}): scores for this batch '
                "should be read with care, and the model retrained on recent data.</p>"
            )
        else:
            out.append(f"<p>No feature shifted beyond PSI {PSI_WARNING} (rule of thumb: under 0.1 stable).</p>")
        out.append(_table(drift.head(10)[["feature", "psi"]]))
    return "\n".join(out)


def build_report(model, scores=None) -> str:
    """The audit report as a self-contained HTML page (figures embedded as PNG).

    Parameters
    ----------
    model : TargetingModel
        Fitted model (folder loaded with `TargetingModel.load` or `tracking.load_model`).
    scores : path, optional
        ``scores.parquet`` written by `score_files` (its ``_batch.json`` gives counts and drift).
    """
    ev, ts = model.evidence_, model.training_summary_
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
            png(calibration_figure(model)),
        ]
    if ev.get("importance"):
        body += [
            "<h2>Main reasons behind the scores</h2>",
            "<p>Mean size of each questionnaire item's contribution (SHAP) to the model's log-odds of eligibility, "
            "on training families.</p>",
            png(importance_figure(model)),
        ]
    if scores is not None:
        body.append(_batch_section(scores))
    body += [
        "<h2>Versions</h2>",
        _table(versions_table(model)),
        '<p class="note">This report holds no personal data: no names, addresses or NIK.</p>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>PKH targeting: audit report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(model, out, scores=None) -> Path:
    """Write `build_report` to ``out`` atomically."""
    with atomic_path(out) as tmp:
        tmp.write_text(build_report(model, scores), encoding="utf-8")
    return Path(out)
