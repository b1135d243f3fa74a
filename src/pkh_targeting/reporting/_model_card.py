"""The model card: what a model is for, its data, accuracy, groups and limits, in Markdown."""

from __future__ import annotations

import pandas as pd

from .._version import __version__
from ..records import contract_version
from ._tables import accuracy_table


def model_card(model) -> str:
    """The model card of a fitted `TargetingModel` as Markdown, from what the model carries."""
    fp, ts, rules = model.fingerprint_, model.training_summary_, model.rules_
    groups = pd.DataFrame(model.evidence_.get("groups", []))
    accuracy = accuracy_table(model)
    lines = [
        "# Model card: PKH targeting model",
        "",
        "## Purpose",
        "Estimates for each family the calibrated probability that it meets the PKH criteria (desil "
        f"1-{rules.desil_cutoff} and at least one component under rules {rules.version}), and "
        "from it the probability that a beneficiary is an inclusion error or a non-beneficiary an exclusion "
        "error. It ranks families for field verification; it decides nothing by itself.",
        "",
        "## Data",
        f"- {fp['families']:,} families, {fp['members']:,} members; data fingerprint `{fp['sha256'][:16]}...`",
        f"- labels: {ts['survey_rows']:,} surveyed families (random sample, consumption), "
        f"{ts['verification_rows']:,} field verifications (not random: weighted by inverse verification probability)",
        f"- rules `{rules.version}`, data contract version {contract_version()}, package {__version__}",
        f"- welfare model: {ts.get('welfare_model', 'unknown')} (`welfare.kind: {model.config.welfare.kind}`); "
        f"calibration: {ts.get('calibration', 'unknown')} (`calibration: {model.config.calibration}`)",
        "",
        "## Accuracy (out of fold, cross-validation grouped by regency)",
        accuracy.to_markdown(index=False, floatfmt=".3f") if len(accuracy) else "(no labelled rows)",
        "",
        "Survey rows are a random sample: their figures are the honest ones. Verification rows are "
        "biased toward beneficiaries and complaints.",
        "",
        "## Groups (out of fold, survey and verification rows)",
        groups.to_markdown(index=False) if len(groups) else "(no groups)",
        "",
        "## Limits",
        "- Consumption is deflated by the urban/rural poverty line only; regional price differences within an "
        "area type are not modelled.",
        "- Field verification samples chosen on unobserved grounds (e.g. complaints) are only partly corrected.",
        "- Groups marked too small cannot be judged.",
        "",
        "## Intended use",
        "Prioritising home visits within a verification budget, with the random audit share kept so that error "
        "rates can be estimated without bias. Not for removing or adding beneficiaries without a visit.",
    ]
    return "\n".join(lines) + "\n"
