"""TargetingModel: probability that each family meets the PKH criteria, and of its status being an error."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from .. import __version__
from ..config import TrainConfig, load_config
from ..exceptions import DataQualityWarning, SchemaError
from ..features import PMTFeatureBuilder
from ..metrics import bin_counts, feature_bins, population_stability_index
from ..rules import apply_rules, load_rules
from ..schema import contract_version
from ..validation import ValidationResult, validate_records
from ._cv import grouped_folds, grouped_lgbm_classifier
from ._welfare import WelfareModel, welfare_from_state, welfare_state

STATUS_FEATURES = {
    "receives_pkh": "family is a PKH beneficiary now (501b)",
    "receives_sembako": "family receives Sembako/BPNT food assistance (501a)",
}
PSI_WARNING = 0.25
SCORE_COLUMNS = [
    "family_id",
    "province_code",
    "regency_code",
    "district_code",
    "village_code",
    "receives_pkh",
    "n_components",
    "benefit_rp",
    "p_eligible",
    "error_type",
    "error_score",
    "reasons",
    "model_version",
    "rules_version",
]


@dataclass
class ScoreResult:
    """Scores of the valid families (scored-batch contract) and the quarantine of the others;
    ``features`` is the model's feature matrix of the scored families (for drift)."""

    scores: pd.DataFrame
    quarantine: pd.DataFrame
    validation: ValidationResult
    features: pd.DataFrame | None = None


def _real_consumption(fam: pd.DataFrame, poverty_line: dict) -> np.ndarray:
    line = np.where(fam["urban"].to_numpy(dtype=bool), poverty_line["urban"], poverty_line["rural"])
    return (
        fam["consumption_per_capita"].to_numpy(dtype="float64", na_value=np.nan) / line
        if ("consumption_per_capita" in fam)
        else np.full(len(fam), np.nan)
    )


class TargetingModel:
    """Estimate, for every family, the probability that it meets the PKH criteria.

    Two labelled sources are combined, because neither is enough alone:

    * **survey** rows (``consumption_per_capita`` measured, a random sample): the welfare criterion
      is known from consumption (deflated by the urban/rural poverty line, below the
      desil cut-off quantile of surveyed families);
    * **verification** rows (``verified_eligible``): many more, but not a random sample: offices
      verify beneficiaries and complaints more. Each verified family is weighted by the inverse of
      its estimated probability of being verified (a logistic selection model on beneficiary status
      and the features of all families), with weights clipped at a high quantile.

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
        self.config = TrainConfig.model_validate(_merge(cfg.model_dump(), overrides)) if overrides else cfg

    # ------------------------------------------------------------------------------------------ fit
    def fit(
        self,
        families,
        members,
        config: TrainConfig | str | Path | None = None,
        *,
        reference_date=None,
        label_sources=("survey", "verification"),
        selection_correction=True,
    ):
        """Learn from the outcome columns the records carry; see the class docstring.

        ``label_sources`` and ``selection_correction`` exist to measure what each part adds
        (``benchmarks/accuracy.py``); keep the defaults in practice.
        """
        if config is not None:
            self.config = config if isinstance(config, TrainConfig) else load_config(config)
        cfg = self.config
        res = validate_records(families, members, reference_date=reference_date)
        fam, mem = res.families.reset_index(drop=True), res.members
        rules = load_rules(cfg.rules)
        self.rules_ = rules
        self.builder_ = PMTFeatureBuilder(rules=rules).fit((fam, mem))
        X = self._status(self.builder_.transform((fam, mem)), fam)
        comps = apply_rules(fam, mem, rules)
        has = comps["has_component"].to_numpy()
        groups = fam[cfg.cv.group_col].to_numpy()

        real = _real_consumption(fam, cfg.welfare.poverty_line)
        surveyed = np.isfinite(real) & (real > 0) & ("survey" in label_sources)
        verified = (
            fam["verified_eligible"].notna().to_numpy() if "verified_eligible" in fam else np.zeros(len(fam), bool)
        ) & ("verification" in label_sources)
        self.threshold_ = float(np.quantile(real[surveyed], rules.desil_cutoff / 10)) if surveyed.any() else None
        self.welfare_, baseline = None, None
        if surveyed.sum() >= 50:
            X["welfare_gap"], baseline = self._fit_welfare(X, real, surveyed, groups)

        # training rows: families with a component (the rest are not eligible by rule)
        sv, vv = surveyed & has, verified & has
        weights = self._selection_weights(X, verified, has) if selection_correction and vv.any() else np.ones(len(fam))
        rows = np.concatenate([np.flatnonzero(sv), np.flatnonzero(vv)])
        if len(rows) < 100:
            raise ValueError(
                f"only {len(rows)} labelled families with a PKH component: too few to train "
                "(need survey consumption or verification outcomes for at least 100)."
            )
        y = np.concatenate(
            [
                real[sv] <= self.threshold_ if self.threshold_ else np.zeros(0, bool),
                fam["verified_eligible"].to_numpy(dtype=bool, na_value=False)[vv],
            ]
        )
        w = np.concatenate([np.ones(sv.sum()), weights[vv]])
        source = np.array(["survey"] * sv.sum() + ["verification"] * vv.sum())
        Xt = X.iloc[rows].reset_index(drop=True)
        params = cfg.lightgbm.model_dump()
        if cfg.monotone_welfare and "welfare_gap" in X:
            params["monotone_constraints"] = [-1 if c == "welfare_gap" else 0 for c in X.columns]
        prior = self._prior(Xt)
        oof, self.classifier_, self.iterations_ = grouped_lgbm_classifier(
            Xt, y, w, groups[rows], params, n_splits=cfg.cv.n_splits, seed=cfg.seed, n_jobs=cfg.n_jobs, init_score=prior
        )
        calib = source == "survey" if (source == "survey").sum() >= 100 else np.ones(len(y), bool)
        p_cv = self._cross_fitted_calibration(oof, y, w, calib, groups[rows])
        self._fit_calibrator(oof[calib], y[calib], w[calib])
        self.feature_names_ = list(X.columns)
        self.oof_ = pd.DataFrame(
            {
                "family_id": fam["family_id"].to_numpy()[rows],
                "source": source,
                "label": y,
                "weight": w,
                "p_raw": oof,
                "p_eligible": p_cv,
                "group": groups[rows],
            }
        )
        oof = self.oof_
        if baseline is not None:  # the same survey rows, scored by the OLS proxy-means test
            sr = oof["source"] == "survey"
            base = oof[sr].assign(source="baseline_ols_survey", p_eligible=np.where(has, baseline, 0)[sv])
            oof = pd.concat([oof, base], ignore_index=True)
        self.cv_metrics_ = _label_metrics(oof)
        self.training_summary_ = {
            "families": int(len(fam)),
            "members": int(len(mem)),
            "quarantined_rows": int(len(res.quarantine)),
            "survey_rows": int(sv.sum()),
            "verification_rows": int(vv.sum()),
            "trees": int(self.classifier_.num_trees()),
            "cv_iterations": [int(i) for i in self.iterations_],
        }
        self.fingerprint_ = data_fingerprint(fam, mem)
        self.feature_bins_ = {c: feature_bins(X[c].to_numpy()) for c in self.feature_names_}
        self.evidence_ = self._evidence(X, fam, mem)
        return self

    def _evidence(self, X, fam, mem) -> dict:
        """What an audit report shows without the training data: out-of-fold accuracy by group and
        reliability per label source, and the mean size of each concept's contribution."""
        from ..explain import Explainer
        from ..metrics import reliability_table

        sample = X.sample(min(len(X), 2000), random_state=self.config.seed)
        return {
            "groups": _group_accuracy(self.oof_, fam, mem).to_dict("records"),
            "reliability": {
                src: reliability_table(d["label"], d["p_eligible"]).to_dict("records")
                for src, d in self.oof_.groupby("source")
            },
            "importance": Explainer(self, language="en").global_importance(sample).round(5).to_dict(),
        }

    def evaluate(self, families, members, *, reference_date=None, group_col: str = "village_code") -> dict:
        """Accuracy on a held-out labelled batch: AUC (interval clustered by ``group_col``), Brier
        and ECE of ``p_eligible`` against its survey and verification labels."""
        out = self.score_records(families, members, reference_date=reference_date, reasons="none")
        fam = out.validation.families.reset_index(drop=True)
        p = out.scores["p_eligible"].to_numpy()
        has = out.scores["n_components"].to_numpy() > 0
        real = _real_consumption(fam, self.config.welfare.poverty_line)
        parts = []
        if self.threshold_ is not None:
            sv = np.isfinite(real) & (real > 0)
            parts.append(
                pd.DataFrame(
                    {
                        "source": "survey",
                        "label": (real <= self.threshold_)[sv] & has[sv],
                        "p_eligible": p[sv],
                        "group": fam[group_col].to_numpy()[sv],
                    }
                )
            )
        if "verified_eligible" in fam:
            vv = fam["verified_eligible"].notna().to_numpy()
            parts.append(
                pd.DataFrame(
                    {
                        "source": "verification",
                        "label": fam["verified_eligible"].to_numpy(dtype=bool, na_value=False)[vv],
                        "p_eligible": p[vv],
                        "group": fam[group_col].to_numpy()[vv],
                    }
                )
            )
        rows = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=["source", "label", "p_eligible", "group"])
        )
        return _label_metrics(rows)

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

    def _status(self, X: pd.DataFrame, fam: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for col in STATUS_FEATURES:
            X[col] = fam[col].to_numpy(dtype=np.float32, na_value=np.nan)
        return X

    def _fit_welfare(self, X, real, surveyed, groups) -> np.ndarray:
        cfg = self.config.welfare
        params = cfg.lightgbm.model_dump()
        params.pop("early_stopping_rounds")
        model = WelfareModel(
            cfg.kind,
            categorical_features=["province"],
            lightgbm_params=params,
            random_state=self.config.seed,
            n_jobs=self.config.n_jobs,
        )
        Xs, ys, gs = X[surveyed], real[surveyed] / self.threshold_, groups[surveyed]
        ols = WelfareModel("ols", categorical_features=["province"])
        oof, oof_ols = np.full(len(ys), np.nan), np.full(len(ys), np.nan)
        for train, test in grouped_folds(gs, self.config.cv.n_splits):
            for m, out in ((model, oof), (ols, oof_ols)):
                out[test] = clone(m).fit(Xs.iloc[train], ys[train], groups=gs[train]).predict_log(Xs.iloc[test])
        self.welfare_ = model.fit(Xs, ys, groups=gs)
        self.welfare_sigma_ = float(np.std(np.log(ys) - oof))
        # the OLS proxy-means baseline, out of fold on the same folds: P(welfare below the threshold)
        baseline = np.full(len(X), np.nan)
        baseline[surveyed] = norm.cdf(-oof_ols / np.std(np.log(ys) - oof_ols))
        gap = self.welfare_.predict_log(X)
        gap[surveyed] = oof
        return gap.astype(np.float32), baseline

    def _prior(self, X) -> np.ndarray | None:
        """Log-odds that welfare is below the threshold, from the welfare model's estimate and its
        out-of-fold error (normal on the log scale): the classifier boosts from this prior."""
        if self.welfare_ is None:
            return None
        p = norm.cdf(-X["welfare_gap"].to_numpy(dtype=np.float64) / self.welfare_sigma_)
        return logit(np.clip(p, 1e-4, 1 - 1e-4))

    def _selection_weights(self, X, verified, has) -> np.ndarray:
        """Inverse probability of verification, from a logistic selection model on all families."""
        Z = StandardScaler().fit_transform(X.fillna(X.median()).to_numpy(dtype=np.float64))
        sel = LogisticRegression(C=0.1, max_iter=2000).fit(Z, verified)
        p = np.clip(sel.predict_proba(Z)[:, 1], 1e-4, 1)
        w = 1 / p
        cap = np.quantile(w[verified & has], self.config.selection_weight_clip)
        w = np.minimum(w, cap)
        return w / w[verified & has].mean()

    def _cross_fitted_calibration(self, p, y, w, calib, groups) -> np.ndarray:
        """Calibrated out-of-fold probabilities, each calibrated without its own regency's rows,
        so that reported calibration is honest."""
        out = np.empty(len(p))
        for train, test in grouped_folds(groups, self.config.cv.n_splits):
            fit = train[calib[train]]
            self._fit_calibrator(p[fit], y[fit], w[fit])
            out[test] = self._calibrate(p[test])
        return out

    def _fit_calibrator(self, p, y, w):
        if self.config.calibration == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y, sample_weight=w)
            self.calibrator_ = {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        else:
            z = logit(np.clip(p, 1e-6, 1 - 1e-6))[:, None]
            lr = LogisticRegression(C=1e6).fit(z, y, sample_weight=w)
            self.calibrator_ = {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}

    def _calibrate(self, p) -> np.ndarray:
        c = self.calibrator_
        if c["method"] == "isotonic":
            # isotonic steps tie many families; a 1e-6 slope keeps the model's order within a step
            return np.clip(np.interp(p, c["x"], c["y"]) + 1e-6 * (np.asarray(p) - 0.5), 0, 1)
        return expit(c["a"] * logit(np.clip(p, 1e-6, 1 - 1e-6)) + c["b"])

    # ---------------------------------------------------------------------------------------- score
    def features(self, families, members) -> pd.DataFrame:
        """The model's feature matrix for validated records."""
        X = self._status(self.builder_.transform((families, members)), families)
        if self.welfare_ is not None:
            X["welfare_gap"] = self.welfare_.predict_log(X).astype(np.float32)
        missing = [c for c in self.feature_names_ if c not in X]
        if missing:
            raise SchemaError(f"the batch lacks features the model was trained on: {missing}")
        return X[self.feature_names_]

    def predict_proba_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability: the trees' log-odds plus the welfare prior."""
        prior = self._prior(X)
        return expit(self.classifier_.predict(X, raw_score=True) + (0 if prior is None else prior))

    @property
    def model_version(self) -> str:
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
        reasons_min_score: float = 0.2,
        known_duplicates=None,
    ) -> ScoreResult:
        """Validate a batch and score its valid families; the others go to the quarantine.

        Parameters
        ----------
        reasons : {"auto", "all", "none"}, default="auto"
            Which families get reasons (see `Explainer`): "auto" explains every family whose error
            score is at least ``reasons_min_score``, where verification lists draw most visits from;
            `verification.explain_lists` explains the listed families without reasons afterwards.
        language : {"id", "en"}, default="id"
        known_duplicates : BatchDuplicates, optional
            Keys duplicated elsewhere in the batch, when it is scored in chunks (`validate_records`).
        """
        res = validate_records(families, members, reference_date=reference_date, known_duplicates=known_duplicates)
        fam, mem = res.families.reset_index(drop=True), res.members
        comps = apply_rules(fam, mem, self.rules_)
        has = comps["has_component"].to_numpy()
        receives = fam["receives_pkh"].to_numpy(dtype=bool)
        X = self.features(fam, mem) if len(fam) else None
        p = np.where(has, self._calibrate(self.predict_proba_raw(X)), 0.0) if len(fam) else np.zeros(0)
        scores = pd.DataFrame({c: fam[c] for c in SCORE_COLUMNS[:6]})
        scores["n_components"] = comps["n_components"].to_numpy()
        scores["benefit_rp"] = comps["benefit_rp"].to_numpy()
        scores["p_eligible"] = p
        scores["error_type"] = np.where(receives, "inclusion", "exclusion")
        scores["error_score"] = np.where(receives, 1 - p, p)
        scores["reasons"] = self._reasons(
            X, fam, receives, has, scores["error_score"].to_numpy(), reasons, language, reasons_min_score
        )
        scores["model_version"] = self.model_version
        scores["rules_version"] = self.rules_.version
        scores = scores.astype(
            {
                "family_id": "string",
                "error_type": "string",
                "model_version": "string",
                "rules_version": "string",
                "n_components": "int64",
                "benefit_rp": "int64",
            }
        )
        return ScoreResult(scores[SCORE_COLUMNS], res.quarantine, res, X)

    def _reasons(self, X, fam, receives, has, error_score, which, language, min_score) -> pd.Series:
        from ..explain import Explainer

        if which not in ("auto", "all", "none"):
            raise ValueError(f"reasons must be 'auto', 'all' or 'none', got {which!r}.")
        out = pd.Series(pd.NA, index=range(len(fam)), dtype="string")
        need = (
            np.zeros(len(fam), bool)
            if which == "none"
            else (np.ones(len(fam), bool) if which == "all" else error_score >= min_score)
        )
        rows = np.flatnonzero(need)
        if len(rows):
            explainer = Explainer(self, language=language)
            Xs = X.iloc[rows]
            out.iloc[rows] = explainer.reasons(Xs, fam.iloc[rows], receives[rows], has[rows]).to_numpy()
        return out

    def score(self, families, members, *, reference_date=None, **kwargs) -> pd.DataFrame:
        """Scored-batch contract (``contract/scores.yaml``) for the valid families of a batch.

        Keyword arguments go to `score_records` (``reasons``, ``language``...).
        """
        out = self.score_records(families, members, reference_date=reference_date, **kwargs)
        if len(out.quarantine):
            import warnings

            warnings.warn(
                f"{out.quarantine[['table', 'row']].drop_duplicates().shape[0]} row(s) quarantined "
                "and not scored; use score_records() to get the quarantine.",
                DataQualityWarning,
                stacklevel=2,
            )
        return out.scores

    # ----------------------------------------------------------------------------------- save / load
    def save(self, path) -> Path:
        """Write the model as text and JSON (no pickles): ``model.json``, ``classifier.txt``."""
        from ..outputs import atomic_path

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {
            "format": "pkh-targeting-model/1",
            "package_version": __version__,
            "contract_version": contract_version(),
            "config": self.config.model_dump(),
            "rules": self.rules_.model_dump(),
            "threshold": self.threshold_,
            "builder": self.builder_.get_state(),
            "feature_names": self.feature_names_,
            "calibrator": self.calibrator_,
            "welfare": welfare_state(self.welfare_) if self.welfare_ else None,
            "welfare_sigma": getattr(self, "welfare_sigma_", None),
            "training_summary": self.training_summary_,
            "fingerprint": self.fingerprint_,
            "cv_metrics": self.cv_metrics_,
            "feature_bins": self.feature_bins_,
            "evidence": self.evidence_,
            "model_hash": self.model_hash(),
            "model_version": getattr(self, "registered_version_", None),
        }
        with atomic_path(path / "classifier.txt") as tmp:
            tmp.write_text(self.classifier_.model_to_string())
        with atomic_path(path / "model.json") as tmp:
            tmp.write_text(json.dumps(state, indent=1, default=_json_default))
        return path

    @classmethod
    def load(cls, path) -> TargetingModel:
        """Load a model written by `save`: JSON and LightGBM text only, nothing is unpickled."""
        from ..rules import Rules

        path = Path(path)
        if not (path / "model.json").is_file():
            raise FileNotFoundError(f"{path}: not a pkh-targeting model folder (no model.json).")
        state = json.loads((path / "model.json").read_text())
        if state.get("contract_version") != contract_version():
            raise SchemaError(
                f"model {path} was trained on data contract version {state.get('contract_version')}, "
                f"this package reads version {contract_version()}."
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
        model.classifier_ = lgb.Booster(model_str=(path / "classifier.txt").read_text())
        if state.get("model_version"):
            model.registered_version_ = state["model_version"]
        return model


def _merge(base: dict, update: dict) -> dict:
    """``base`` with ``update`` merged in, nested dictionaries key by key."""
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _group_accuracy(oof: pd.DataFrame, families, members) -> pd.DataFrame:
    """AUC and Brier of out-of-fold probabilities by `standard_groups` (fairlearn), with a flag for
    groups under 100 labelled families."""
    from fairlearn.metrics import MetricFrame, count
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from ..metrics import standard_groups

    groups = standard_groups(families, members).reindex(oof["family_id"].to_numpy())
    y, p = oof["label"].to_numpy(bool), oof["p_eligible"].to_numpy()
    auc = lambda a, b: roc_auc_score(a, b) if 0 < a.sum() < len(a) else np.nan  # noqa: E731
    rows = []
    for col in groups.columns:
        mf = MetricFrame(
            metrics={"auc": auc, "brier": brier_score_loss, "rows": count},
            y_true=y,
            y_pred=p,
            sensitive_features=pd.Series(groups[col].astype(str).to_numpy(), name=col),
        )
        for level, r in mf.by_group.iterrows():
            rows.append(
                {
                    "group": col,
                    "level": level,
                    "rows": int(r["rows"]),
                    "auc": round(float(r["auc"]), 3),
                    "brier": round(float(r["brier"]), 3),
                    "too_small": int(r["rows"]) < 100,
                }
            )
    return pd.DataFrame(rows)


def _label_metrics(oof: pd.DataFrame) -> dict:
    """AUC (with group-clustered interval), Brier and ECE of ``p_eligible`` per label source."""
    from sklearn.metrics import roc_auc_score

    from ..metrics import bootstrap_ci, calibration_summary

    out = {}
    for source, d in oof.groupby("source"):
        y, p = d["label"].to_numpy(bool), d["p_eligible"].to_numpy()
        if 0 < y.sum() < len(y):
            auc = bootstrap_ci(
                lambda a, b: roc_auc_score(a, b) if 0 < a.sum() < len(a) else np.nan,
                y,
                p,
                clusters=d["group"].to_numpy(),
                n_boot=100,
            )
            out[f"{source}_auc"] = auc["estimate"]
            out[f"{source}_auc_low"], out[f"{source}_auc_high"] = auc["low"], auc["high"]
        out.update({f"{source}_{k}": v for k, v in calibration_summary(y, p).items()})
        out[f"{source}_rows"] = int(len(d))
    return out


def _json_default(o):
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def fingerprint_counts(families: pd.DataFrame, members: pd.DataFrame) -> dict:
    """The additive parts of `data_fingerprint`: sums (mod 2**64) of row hashes and counts, so
    that chunks of a batch add up to the fingerprint of the whole, in any order."""
    from ..schema import load_contract

    contract = load_contract()
    out = {}
    for name, df in (("families", families), ("members", members)):
        cols = [c for c in contract[name].columns if c in df]
        rows = pd.util.hash_pandas_object(df[cols], index=False).to_numpy()
        out[f"{name}_hash"] = int(rows.sum(dtype=np.uint64))
        out[name] = int(len(df))
    out["beneficiaries"] = int(families["receives_pkh"].sum())
    if "verified_eligible" in families:
        v = families["verified_eligible"].dropna().astype(bool)
        out.update(verified=int(len(v)), verified_eligible=int(v.sum()))
    if "consumption_per_capita" in families:
        out["surveyed"] = int(families["consumption_per_capita"].notna().sum())
    return out


def add_fingerprint_counts(a: dict, b: dict) -> dict:
    """Sum two `fingerprint_counts` (row hashes modulo 2**64)."""
    out = {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}
    for k in out.keys() & {"families_hash", "members_hash"}:
        out[k] %= 2**64
    return out


def data_fingerprint(families: pd.DataFrame | None = None, members=None, *, counts: dict | None = None) -> dict:
    """Hash of the canonical tables (contract columns; row order does not matter) and label
    counts; never the rows. Give the tables, or their `fingerprint_counts` summed over chunks."""
    c = fingerprint_counts(families, members) if counts is None else counts
    digest = hashlib.sha256(f"families {c['families_hash']} members {c['members_hash']}".encode())
    fp = {k: c[k] for k in ("families", "members", "beneficiaries")}
    fp = {"sha256": digest.hexdigest(), **fp}
    if "verified" in c:
        fp.update(
            verified=c["verified"],
            verified_eligible_share=c["verified_eligible"] / c["verified"] if c["verified"] else None,
        )
    if "surveyed" in c:
        fp["surveyed"] = c["surveyed"]
    return fp
