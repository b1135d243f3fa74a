"""TargetingModel: probability that each family meets the PKH criteria, and of its status being an error."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from ..config import TrainConfig, load_config
from ..exceptions import DataQualityWarning, SchemaError
from ..features import PMTFeatureBuilder
from ..metrics import bin_counts, population_stability_index
from ..records import as_reference_date, validate_records
from ..rules import load_rules
from ..treeshap import raw_scores
from . import _persistence
from ._calibration import calibrate, choose_calibration, cross_fitted, fit_calibrator
from ._cv import grouped_lgbm_classifier
from ._evaluation import (
    LABEL_SOURCES,
    label_metrics,
    labelled_rows,
    real_consumption,
    record_training,
    surveyed_rows,
    verified_rows,
    welfare_threshold,
)
from ._linked import LinkedEvidence, RegistryEvidence, components, fit_report_reliability, fit_reports, score_reports
from ._prior import fit_welfare, prior_log_odds, selection_shift, selection_weights
from ._reach import REASONS_SHARE
from ._scored import ScoreResult, scores_frame

STATUS_FEATURES = {
    "receives_pkh": "family is a PKH beneficiary now (501b)",
    "receives_sembako": "family receives Sembako/BPNT food assistance (501a)",
}
PSI_WARNING = 0.25
MIN_TRAINING_ROWS = 100
MIN_SURVEY_ROWS = 50  # fewer surveyed families give no welfare model
MIN_CALIBRATION_ROWS = 100  # fewer survey rows calibrate on all labelled rows and shift none


class TargetingModel:
    """Estimate, for every family, the probability that it meets the PKH criteria.

    A model object over the two record tables (families and members), not a scikit-learn
    estimator: `fit` and `score` take the tables as exported, validate them and build the features
    themselves. Its configuration is given once, here: a `TrainConfig`, the path of a training
    config YAML, or field overrides of the default config.

    Two labelled sources are combined, because neither is enough alone:

    * **survey** rows (``consumption_per_capita`` measured, a random sample): the welfare criterion
      is known from consumption (deflated by the urban/rural poverty line, below the
      desil cut-off quantile of surveyed families);
    * **verification** rows (``verified_eligible``): many more, but not a random sample: offices
      verify beneficiaries and complaints more. Each verified family is weighted by the inverse of
      its estimated probability of being verified (a logistic selection model on beneficiary status
      and the features of all families), with weights clipped at a high quantile; and as verified
      families are also selected on eligibility (complaints, objections), the trees learn from their
      labels with a log-odds shift per status, estimated beside the survey rows (`selection_shift`).

    A welfare model (`WelfareModel`) fitted on the survey rows adds its estimate as a feature
    (out of fold for the survey rows themselves). A LightGBM classifier is trained on both sources
    with cross-validation grouped by regency and early stopping on held-out regencies, and its
    out-of-fold predictions on the random survey rows calibrate it (isotonic or Platt). Rules are
    hard where they are certain: a family without a PKH component has ``p_eligible = 0``.

    Parameters
    ----------
    config : TrainConfig, str or Path, optional
        Training configuration (``configs/train.yaml`` by default).
    **overrides
        Fields of `TrainConfig` to change, e.g. ``calibration="sigmoid"``.
    """

    def __init__(self, config: TrainConfig | str | Path | None = None, **overrides):
        cfg = config if isinstance(config, TrainConfig) else load_config(config)
        self.config = cfg.with_overrides(**overrides)

    # ------------------------------------------------------------------------------------------ fit
    def fit(
        self,
        families,
        members,
        *,
        registry_records=None,
        community_reports=None,
        reference_date=None,
        label_sources=LABEL_SOURCES,
        selection_correction=True,
    ):
        """Learn from the outcome columns the records carry; see the class docstring.

        ``registry_records`` (evidence contract) are linked to the members (`link_records`; the
        trained linker is kept with the model) and become evidence features and, where the rules say
        so, rules (deaths, hard exclusions); ``community_reports`` (usul, sanggah, village meetings)
        become report features. ``label_sources`` and ``selection_correction`` exist to measure what
        each part adds (``benchmarks/accuracy.py``); keep the defaults in practice.
        """
        ref = as_reference_date(reference_date)
        res = validate_records(families, members, reference_date=ref)
        fam, mem = res.families.reset_index(drop=True), res.members
        self.rules_ = load_rules(self.config.rules)
        self.registry_, linked = None, LinkedEvidence(None)
        if registry_records is not None:
            self.registry_, linked = RegistryEvidence.fit(fam, mem, registry_records, ref, self.config.seed)
        comps = components(fam, mem, linked.links, self.rules_)
        has = comps["has_component"].to_numpy()
        groups = fam[self.config.cv.group_col].to_numpy()
        self.builder_ = PMTFeatureBuilder(rules=self.rules_).fit((fam, mem))
        X = self._status(self.builder_.transform_records(fam, mem, comps), fam)
        real = real_consumption(fam, self.config.welfare.poverty_line)
        surveyed = surveyed_rows(real) & ("survey" in label_sources)
        baseline = self._fit_welfare_prior(X, real, surveyed, groups)
        self.reports_, reports = fit_reports(community_reports, families, ref)
        X = self._with_evidence(X, fam, linked.links, reports.valid if reports else None, ref)
        train = self._training_rows(fam, X, has, real, label_sources, selection_correction)
        if self.reports_ is not None:
            self.reports_, X = fit_report_reliability(X, train, groups, self.config.cv.n_splits)
        oof = self._fit_classifier(X, train, groups)
        p_cv = self._fit_calibration(oof, train, groups)
        self.feature_names_ = list(X.columns)
        self.oof_ = train.assign(
            family_id=fam["family_id"].to_numpy()[train["row"]], p_raw=oof, p_eligible=p_cv, group=groups[train["row"]]
        )[["family_id", "source", "label", "weight", "p_raw", "p_eligible", "group"]]
        record_training(self, X, fam, mem, res, has, baseline, surveyed)
        self.training_summary_["registry_records"] = linked.lineage()
        self.training_summary_["community_reports"] = reports.summary().to_dict() if reports else {}
        return self

    def _fit_welfare_prior(self, X, real, surveyed, groups) -> np.ndarray | None:
        """The welfare threshold, and with enough surveyed families the welfare model behind the
        prior (its estimate added to ``X`` as ``welfare_gap``); returns the OLS baseline's
        out-of-fold probabilities, or None."""
        self.threshold_ = welfare_threshold(real, surveyed, self.rules_.desil_cutoff)
        self.welfare_, self.welfare_sigma_ = None, None
        if surveyed.sum() < MIN_SURVEY_ROWS:
            return None
        self.welfare_, self.welfare_sigma_, X["welfare_gap"], baseline = fit_welfare(
            X, real, surveyed, groups, self.threshold_, self.config
        )
        return baseline

    def _training_rows(self, fam, X, has, real, label_sources, selection_correction) -> pd.DataFrame:
        """Labelled families with a component (the rest are not eligible by rule), with weights."""
        rows = labelled_rows(fam, has, real, self.threshold_, label_sources)
        rows = rows[has[rows["row"].to_numpy()]].reset_index(drop=True)
        if len(rows) < MIN_TRAINING_ROWS:
            raise ValueError(
                f"only {len(rows)} labelled families with a PKH component: too few to train "
                f"(need survey consumption or verification outcomes for at least {MIN_TRAINING_ROWS})."
            )
        verified = verified_rows(fam) & ("verification" in label_sources)
        weights = np.ones(len(fam))
        if selection_correction and (verified & has).any():
            weights = selection_weights(X, verified, has, self.config.selection_weight_clip)
        is_verification = (rows["source"] == "verification").to_numpy()
        rows["weight"] = np.where(is_verification, weights[rows["row"].to_numpy()], 1.0)
        return rows

    def _fit_classifier(self, X, train: pd.DataFrame, groups) -> np.ndarray:
        """The boosted classifier (from the welfare prior); returns its out-of-fold probabilities."""
        rows = train["row"].to_numpy()
        Xt = X.iloc[rows].reset_index(drop=True)
        params = self.config.lightgbm.model_dump()
        if self.config.monotone_welfare and "welfare_gap" in X:
            params["monotone_constraints"] = [-1 if c == "welfare_gap" else 0 for c in X.columns]
        y, w = train["label"].to_numpy(), train["weight"].to_numpy()
        prior, survey = self._prior(Xt), (train["source"] == "survey").to_numpy()
        offset, self.selection_shift_ = None, {}
        if survey.sum() >= MIN_CALIBRATION_ROWS:
            offset, self.selection_shift_ = selection_shift(y, prior, w, Xt["receives_pkh"], survey)
        cv = {"n_splits": self.config.cv.n_splits, "seed": self.config.seed, "n_jobs": self.config.n_jobs}
        oof, self.classifier_, self.iterations_ = grouped_lgbm_classifier(
            Xt, y, w, groups[rows], params, init_score=prior, offset=offset, **cv
        )
        return oof

    def _fit_calibration(self, oof, train: pd.DataFrame, groups) -> np.ndarray:
        """The calibrator, fitted on the random survey rows when there are enough (else on all rows);
        returns the cross-fitted calibrated out-of-fold probabilities."""
        y, w = train["label"].to_numpy(), train["weight"].to_numpy()
        survey = (train["source"] == "survey").to_numpy()
        calib = survey if survey.sum() >= MIN_CALIBRATION_ROWS else np.ones(len(y), bool)
        method, n_splits, g = self.config.calibration, self.config.cv.n_splits, groups[train["row"].to_numpy()]
        if method == "auto":
            method, p_cv, brier = choose_calibration(oof, y, w, calib, g, n_splits)
        else:
            p_cv, brier = cross_fitted(method, oof, y, w, calib, g, n_splits), {}
        self.calibrator_ = {**fit_calibrator(method, oof[calib], y[calib], w[calib]), "cross_fitted_brier": brier}
        return p_cv

    def _status(self, X: pd.DataFrame, fam: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for col in STATUS_FEATURES:
            X[col] = fam[col].to_numpy(dtype=np.float32, na_value=np.nan)
        return X

    # ------------------------------------------------------------------------------------- evaluate
    def evaluate(self, families, members, *, reference_date=None, group_col: str = "village_code", **evidence) -> dict:
        """Accuracy on a held-out labelled batch: AUC (interval clustered by ``group_col``), Brier
        and ECE of ``p_eligible`` against its survey and verification labels (``evidence``: its
        ``registry_records`` and ``community_reports``, for a model trained with them); and the Brier
        and ECE of the uncalibrated probabilities (``*_raw_brier``, ``*_raw_ece``): what the
        calibration does on data it has not seen."""
        out = self.score_records(families, members, reference_date=reference_date, reasons="none", **evidence)
        fam = out.validation.families.reset_index(drop=True)
        has = out.scores["n_components"].to_numpy() > 0
        real = real_consumption(fam, self.config.welfare.poverty_line)
        rows = labelled_rows(fam, has, real, self.threshold_)
        at = rows["row"].to_numpy()
        p_raw = np.where(has, self.predict_proba_raw(out.features), 0.0)[at] if len(at) else np.zeros(0)
        rows = rows.assign(
            p_eligible=out.scores["p_eligible"].to_numpy()[at], p_raw=p_raw, group=fam[group_col].to_numpy()[at]
        )
        return label_metrics(rows)

    def drift(self, X: pd.DataFrame | None = None, *, counts: dict | None = None) -> pd.DataFrame:
        """Population stability index of each feature of a batch against training, largest first.

        Give the batch's feature matrix ``X``, or its `bin_counts` summed over chunks.
        """
        counts = self.bin_counts(X) if counts is None else counts
        psi = {c: population_stability_index(self.feature_bins_[c], counts=counts[c]) for c in self.feature_names_}
        out = pd.DataFrame({"feature": list(psi), "psi": list(psi.values())})
        out["shifted"] = out["psi"] > PSI_WARNING
        return out.sort_values("psi", ascending=False, ignore_index=True)

    def bin_counts(self, X: pd.DataFrame) -> dict:
        """Counts of each feature in its training bins (see `drift`); they add up over chunks."""
        M = X[self.feature_names_].to_numpy(dtype=np.float64, na_value=np.nan)
        return {c: bin_counts(M[:, j], self.feature_bins_[c]["edges"]) for j, c in enumerate(self.feature_names_)}

    # ---------------------------------------------------------------------------------------- score
    def features(
        self, families, members, components=None, links=None, reports=None, *, reference_date=None
    ) -> pd.DataFrame:
        """The model's feature matrix for validated records (``components``: their `apply_rules`, if
        known; ``links``, ``reports``: their linked registry records and valid community reports,
        for a model trained with them)."""
        X = self._status(self.builder_.transform_records(families, members, components), families)
        if self.welfare_ is not None:
            X["welfare_gap"] = self.welfare_.predict_log(X[self.welfare_.feature_names_in_]).astype(np.float32)
        X = self._with_evidence(X, families, links, reports, as_reference_date(reference_date))
        missing = [c for c in self.feature_names_ if c not in X]
        if missing:
            raise SchemaError(f"the batch lacks features the model was trained on: {missing}")
        return X[self.feature_names_]

    def _with_evidence(self, X, fam, links, reports, ref) -> pd.DataFrame:
        """``X`` with the evidence features of the tables the model was trained with."""
        parts = [X]
        if self.registry_ is not None:
            parts.append(self.registry_.transform(links, fam, ref).set_axis(X.index))
        if self.reports_ is not None:
            parts.append(self.reports_.transform(reports, fam, ref).set_axis(X.index))
        return pd.concat(parts, axis=1) if len(parts) > 1 else X

    def _prior(self, X) -> np.ndarray | None:
        """The log-odds the trees boost from: the welfare prior plus what the reports say (their
        reliability scores are log-odds shifts, learned beside the welfare estimate)."""
        prior = None if self.welfare_ is None else self.prior_log_odds(X["welfare_gap"])
        shift = self.report_shift(X)
        return shift if prior is None else prior + (0 if shift is None else shift)

    def report_shift(self, X) -> np.ndarray | None:
        """Sum of the reports' ``rep_{kind}_score`` (0 where unknown), for a model trained with reports."""
        if self.reports_ is None or self.reports_.reliability is None:
            return None
        cols = [c for c in X.columns if c.startswith("rep_") and c.endswith("_score")]
        return np.nan_to_num(X[cols].to_numpy(dtype=np.float64)).sum(axis=1)

    def prior_log_odds(self, welfare_gap) -> np.ndarray:
        """The log-odds of eligibility the classifier boosts from, at welfare estimates ``welfare_gap``
        (for a model with a welfare model)."""
        return prior_log_odds(welfare_gap, self.welfare_sigma_)

    def predict_proba_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability: the trees' log-odds plus the prior (welfare and reports)."""
        prior = self._prior(X)
        return expit(raw_scores(self.classifier_, X) + (0 if prior is None else prior))

    def calibrated(self, p_raw) -> np.ndarray:
        """Calibrated probabilities of raw ones (`predict_proba_raw`)."""
        return calibrate(self.calibrator_, p_raw)

    def require_rules(self, rules_version: str | None) -> None:
        """Refuse a batch whose stated rules version differs from the model's (`SchemaError`)."""
        if rules_version and rules_version != self.rules_.version:
            raise SchemaError(
                f"the batch is for rules {rules_version!r} but the model applies {self.rules_.version!r}; "
                "train a model under those rules or score with the matching model."
            )

    @property
    def model_version(self) -> str:
        """Registered name and version (or run) the model was loaded as; ``local:<hash>`` otherwise."""
        return getattr(self, "registered_version_", None) or f"local:{self.model_hash()}"

    def model_hash(self) -> str:
        return hashlib.sha256(self.classifier_.model_to_string().encode()).hexdigest()[:12]

    def score_records(
        self,
        families,
        members,
        *,
        reference_date=None,
        reasons: str = "auto",
        language: str = "id",
        reasons_share: float = REASONS_SHARE,
        known_duplicates=None,
        registry_records=None,
        links=None,
        community_reports=None,
    ) -> ScoreResult:
        """Validate a batch and score its valid families; the others go to the quarantine.

        Parameters
        ----------
        reasons : {"auto", "all", "none"}, default="auto"
            Which families get reasons (see `Explainer`): "auto" those a verification list can reach
            within a budget of ``reasons_share`` of the candidates (`reachable`: per list and district
            or village, by value or probability); `verification.explain_lists` explains listed
            families without reasons afterwards (audit visits, larger budgets).
        language : {"id", "en"}, default="id"
        known_duplicates : BatchDuplicates, optional
            Keys duplicated elsewhere in the batch, when it is scored in chunks (`validate_records`).
        registry_records : DataFrame, optional
            Records of other registries (evidence contract), linked with the model's linker; for a
            model trained with them. ``links`` instead: the batch's links, made once for a whole batch
            scored in chunks.
        community_reports : DataFrame, optional
            Reports from the community about the batch's families, for a model trained with them.
        """
        if reasons not in ("auto", "all", "none"):
            raise ValueError(f"reasons must be 'auto', 'all' or 'none', got {reasons!r}.")
        ref = as_reference_date(reference_date)
        res = validate_records(families, members, reference_date=ref, known_duplicates=known_duplicates)
        fam, mem = res.families.reset_index(drop=True), res.members
        linked = self.registry_.link(fam, mem, registry_records, ref, links) if self.registry_ else LinkedEvidence(None)
        reports = score_reports(self.reports_, community_reports, families, ref)
        comps = components(fam, mem, linked.links, self.rules_)
        has = comps["has_component"].to_numpy()
        valid = reports.valid if reports else None
        X = self.features(fam, mem, comps, linked.links, valid, reference_date=ref) if len(fam) else None
        p = np.where(has, self.calibrated(self.predict_proba_raw(X)), 0.0) if len(fam) else np.zeros(0)
        scores = scores_frame(self, fam, comps, p, X, reasons, reasons_share, language)
        return ScoreResult(scores, res.quarantine, res, X, linked, reports)

    def score(self, families, members, *, reference_date=None, **kwargs) -> pd.DataFrame:
        """Scored-batch contract (``contract/scores.yaml``) for the valid families of a batch.

        Keyword arguments go to `score_records` (``reasons``, ``language``...).
        """
        out = self.score_records(families, members, reference_date=reference_date, **kwargs)
        if len(out.quarantine):
            warnings.warn(
                f"{out.quarantine[['table', 'row']].drop_duplicates().shape[0]} row(s) quarantined "
                "and not scored; use score_records() to get the quarantine.",
                DataQualityWarning,
                stacklevel=2,
            )
        return out.scores

    # ----------------------------------------------------------------------------------- save / load
    def save(self, path, *, model_version: str | None = None) -> Path:
        """Write the model as text and JSON (no pickles): ``model.json``, ``classifier.txt``.

        ``model_version`` (e.g. the registered ``NAME/VERSION``) is what scores of the loaded model
        carry; by default the version the model was loaded as, if any.
        """
        return _persistence.save(self, path, model_version or getattr(self, "registered_version_", None))

    @classmethod
    def load(cls, path, *, model_version: str | None = None, source_uri: str | None = None) -> TargetingModel:
        """Load a model written by `save`: JSON and LightGBM text only, nothing is unpickled.

        ``model_version`` and ``source_uri`` say where it was loaded from (a registry version),
        over what the folder records.
        """
        model = _persistence.load(cls, path)
        if model_version:
            model.registered_version_ = model_version
        if source_uri:
            model.source_uri_ = source_uri
        return model
