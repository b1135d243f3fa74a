"""Explanations: TreeSHAP contributions folded to questionnaire concepts, and reasons in plain words.

What the contributions explain: the model's uncalibrated log-odds that a family meets the PKH
criteria. That log-odds is the classifier's trees (TreeSHAP, LightGBM ``pred_contrib``) plus the
welfare prior, a decreasing function of the welfare model's estimate. The prior's change from its
base, together with the trees' use of the welfare estimate, is shared out over the features in
proportion to their contributions to that estimate (TreeSHAP for trees, ``coef * (x - mean)`` for
OLS). The parts add up exactly: ``base + contributions.sum(axis=1)`` is the log-odds. Calibration is
monotone, so a reason that raises the log-odds raises ``p_eligible``: for a beneficiary it lowers
the inclusion-error score, for a non-beneficiary it raises the exclusion-error score.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .features import ASSET_ITEMS, evidence_concept, report_concept
from .treeshap import contributions as tree_contributions

LANGUAGES = ("id", "en")
STATUS_CONCEPTS = {"receives_pkh": "PKH status (501b)", "receives_sembako": "Sembako (501a)"}
WELFARE_CONCEPT = "welfare estimate"
# concepts an officer cannot check at the door or in a register: never among a family's reasons
CONTEXT_CONCEPTS = ("province", "urban area", "village context")
EVIDENCE_PREFIX = evidence_concept("")
REPORT_PREFIX = report_concept("")


def report_texts(kind: str, X: pd.DataFrame, t: dict, lang: str) -> np.ndarray:
    """A community report's reason as an officer reads it: "Sanggah warga lewat Cek Bansos, dengan
    foto: keluarga dinilai mampu"; the channel most used, a photo if any came, the grounds most given."""
    grounds = [c for c in X.columns if c.startswith("rep_grounds_")]
    G = X[grounds].to_numpy(dtype="float64") if grounds else np.zeros((len(X), 0))
    top_ground = (
        [t["grounds"][lang][grounds[j][len("rep_grounds_") : -2]] for j in np.argmax(G, axis=1)] if grounds else []
    )
    has_ground = G.max(axis=1) > 0 if grounds else np.zeros(len(X), bool)
    if kind == "grounds":
        texts = [
            t["grounds_text"][lang].format(grounds=g) if h else t["none"][lang] for g, h in zip(top_ground, has_ground)
        ]
        return np.array(texts, dtype=object)
    n = X[f"rep_{kind}_n"].to_numpy(dtype="float64")
    channels = [
        c for c in X.columns if c.startswith(f"rep_{kind}_") and c[len(f"rep_{kind}_") : -2] in t["channels"][lang]
    ]
    C = X[channels].to_numpy(dtype="float64") if channels else np.zeros((len(X), 0))
    photo = X[f"rep_{kind}_photo_n"].to_numpy(dtype="float64") if f"rep_{kind}_photo_n" in X else np.zeros(len(X))
    spec = t["kinds"][kind]
    out = np.empty(len(X), dtype=object)
    for i in range(len(X)):
        if not n[i] > 0:
            out[i] = spec[f"{lang}_none"]
            continue
        channel = t["channels"][lang][channels[int(np.argmax(C[i]))][len(f"rep_{kind}_") : -2]] if channels else ""
        text = spec[lang].format(channel=channel, photo=t["photo"][lang] if photo[i] > 0 else "")
        out[i] = f"{text}: {top_ground[i]}" if has_ground[i] and kind in ("usul", "sanggah") else text
    return out


def evidence_texts(source: str, X: pd.DataFrame, fam: pd.DataFrame, t: dict, lang: str) -> np.ndarray:
    """A linked registry's reason in the officer's words, with its strength: "Daya listrik PLN 2200 VA,
    di DTSEN 900 VA (cocok NIK)"; where the family has no such record, that it has none."""
    spec = t["sources"][source]
    p = X[f"ev_{source}_p"].to_numpy(dtype="float64")
    value = X[f"ev_{source}_value"].to_numpy(dtype="float64") if f"ev_{source}_value" in X else np.full(len(X), np.nan)
    registry_va = fam["electricity_va"].to_numpy(dtype="float64", na_value=0.0) if "electricity_va" in fam else 0.0
    registry_va = np.broadcast_to(registry_va, len(X))
    out = np.empty(len(X), dtype=object)
    for i in range(len(X)):
        if not p[i] > 0:
            out[i] = spec[f"{lang}_none"]
            continue
        strength = (
            t["match"][lang]["nik"] if p[i] >= 1 else t["match"][lang]["probabilistic"].format(p=_decimal(p[i], lang))
        )
        out[i] = spec[lang].format(value=_amount(value[i], lang), registry=f"{registry_va[i]:.0f}", match=strength)
    return out


def evidence_summary(links: pd.DataFrame, family_ids, language: str = "id", templates=None) -> pd.Series:
    """Per family of ``family_ids``, the linked records of other registries as an officer checks
    them: "ASN/TNI/Polri (BKN): cocok NIK; PLN 2.200 VA: cocok nama dan tanggal lahir 0,93"."""
    t = load_templates(templates)["evidence"]
    labels, match = t["labels"][language], t["match"][language]
    linked = links[links["family_id"].notna()]
    p = linked["match_probability"].to_numpy(dtype="float64")
    strength = np.where(p >= 1, match["nik"], [match["probabilistic"].format(p=_decimal(x, language)) for x in p])
    value = linked["value"].to_numpy(dtype="float64")
    label = [
        labels[s].format(value=_amount(v, language)) if s in labels else s
        for s, v in zip(linked["source"].astype(str), value)
    ]
    text = pd.Series([f"{a}: {b}" for a, b in zip(label, strength)], index=linked.index, dtype="object")
    joined = text.groupby(linked["family_id"].astype(str).to_numpy()).agg(lambda x: "; ".join(dict.fromkeys(x)))
    return pd.Series(
        joined.reindex(pd.Index(family_ids).astype(str)).to_numpy(), index=pd.Index(family_ids), dtype="string"
    )


def _decimal(x: float, lang: str) -> str:
    text = f"{np.floor(x * 100) / 100:.2f}"  # rounded down: a probabilistic link never reads as 1.00
    return text.replace(".", ",") if lang == "id" else text


def _amount(x: float, lang: str) -> str:
    if np.isnan(x):
        return "?"
    text = f"{x:,.0f}"
    return text.replace(",", ".") if lang == "id" else text


def _render(x, fmt: str, spec: dict, lang: str) -> str:
    """A questionnaire value as its reason shows it."""
    if fmt == "text":
        return str(x)
    if fmt == "code":
        return spec["codes"][lang].get(int(x), str(x))
    if fmt == "int":
        return f"{int(x)}"
    if fmt == "percent":
        return f"{100 * float(x):.0f}%"
    return f"{round(float(x), 1) + 0.0:.1f}"  # + 0.0: no "-0.0"


def _top(toward: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` largest values per row, largest first, ties to the leftmost: a stable
    descending sort's first ``k``, by ``k`` passes of argmax."""
    finite = np.isfinite(toward)
    if k * 2 > toward.shape[1] or np.isnan(toward).any() or (finite.sum(axis=1) < k).any():
        return np.argsort(-toward, axis=1, kind="stable")[:, :k]
    left, rows = toward.copy(), np.arange(len(toward))
    top = np.empty((len(toward), k), dtype=np.intp)
    for j in range(k):
        top[:, j] = np.argmax(left, axis=1)
        left[rows, top[:, j]] = -np.inf
    return top


def load_templates(path=None) -> dict:
    """Reason templates (``configs/reasons.yaml`` by default), read with a safe loader."""
    text = (
        Path(path).read_text("utf-8")
        if path
        else resources.files("pkh_targeting.configs").joinpath("reasons.yaml").read_text("utf-8")
    )
    return yaml.safe_load(text)


class Explainer:
    """Per-family contributions and reasons for a fitted `TargetingModel`.

    Parameters
    ----------
    model : TargetingModel
    language : {"id", "en"}, default="id"
    top_n : int, default=3
        Reasons per family.
    templates : str or Path, optional
        Reason template file; ``configs/reasons.yaml`` by default.
    """

    def __init__(self, model, *, language: str = "id", top_n: int = 3, templates=None):
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}.")
        self.model, self.language, self.top_n = model, language, top_n
        self.templates = load_templates(templates)
        docs = model.builder_.feature_dictionary_.set_index("name")["concept"].to_dict()
        docs.update(STATUS_CONCEPTS)
        for evidence in (getattr(model, "registry_", None), getattr(model, "reports_", None)):
            docs.update(getattr(evidence, "features", evidence).concepts if evidence is not None else {})
        self.concepts = {f: docs.get(f, f) for f in model.feature_names_ if f != "welfare_gap"}
        self.asset_concepts = {docs[f]: f for f in ASSET_ITEMS if f in docs}

    # ---------------------------------------------------------------------------- contributions
    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Log-odds contributions per model feature (the welfare estimate shared out) and the base."""
        model = self.model
        cols = list(X.columns)
        B = tree_contributions(model.classifier_, X)
        trees, base = B[:, :-1], B[:, -1].copy()
        if model.report_shift(X) is not None:  # the reports' prior shift is theirs, in log-odds
            for j in [j for j, c in enumerate(cols) if c.startswith("rep_") and c.endswith("_score")]:
                trees[:, j] += np.nan_to_num(X.iloc[:, j].to_numpy(dtype=np.float64))
        if model.welfare_ is None:
            return pd.DataFrame(self._share_index(trees, X), index=X.index, columns=cols), base
        c, base_w = model.welfare_.contributions(X[model.welfare_.feature_names_in_])
        gap_at = cols.index("welfare_gap")
        gap = X.iloc[:, gap_at].to_numpy(dtype=np.float64)
        prior = model.prior_log_odds
        channel = trees[:, gap_at] + prior(gap) - prior(base_w)
        spread = gap - base_w
        ok = np.abs(spread) > 1e-9
        per_unit = np.where(ok, channel / np.where(ok, spread, 1.0), 0.0)
        for j, col in zip(X.columns.get_indexer(c.columns), c.to_numpy().T):
            trees[:, j] += col * per_unit
        trees[:, gap_at] = np.where(ok, 0.0, channel)  # what the features behind the estimate do not explain
        out = pd.DataFrame(self._share_index(trees, X), index=X.index, columns=cols)
        out = out[[c for c in cols if c != "welfare_gap"] + ["welfare_gap"]]  # the estimate's own part last
        return out.rename(columns={"welfare_gap": WELFARE_CONCEPT}), base + prior(base_w)

    def _share_index(self, contrib: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        """The asset index's contribution shared out over the assets and dwelling items behind it,
        in proportion to their parts of the index (where it is not about zero); in place."""
        if "asset_index" not in X:
            return contrib
        terms = self.model.builder_.index_terms(X)
        index = terms.sum(axis=1).to_numpy()
        ok = np.abs(index) > 1e-6
        at = X.columns.get_loc("asset_index")
        per_unit = np.where(ok, contrib[:, at] / np.where(ok, index, 1.0), 0.0)
        for j, col in zip(X.columns.get_indexer(terms.columns), terms.to_numpy().T):
            contrib[:, j] += col * per_unit
        contrib[:, at] = np.where(ok, 0.0, contrib[:, at])
        return contrib

    def concept_contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Contributions summed per questionnaire concept (e.g. all floor dummies -> floor material)."""
        contrib, base = self.contributions(X)
        codes, concepts = pd.factorize(pd.Index([self.concepts.get(c, c) for c in contrib.columns]))
        folded = np.zeros((len(X), len(concepts)), order="F")
        for k, col in zip(codes, contrib.to_numpy().T):
            folded[:, k] += col
        return pd.DataFrame(folded, index=X.index, columns=concepts), base

    # ----------------------------------------------------------------------------------- reasons
    def _values(self, feature, X, fam) -> pd.Series:
        if feature in X:
            return pd.Series(X[feature].to_numpy(), index=X.index)
        return pd.Series(fam[feature].to_numpy(), index=X.index)

    def _texts(self, concept: str, rows: np.ndarray, X: pd.DataFrame, fam: pd.DataFrame) -> np.ndarray:
        lang, t = self.language, self.templates
        spec = t["concepts"].get(concept)
        if concept in self.asset_concepts:
            feature = self.asset_concepts[concept]
            label = ASSET_ITEMS[feature]
            label = t["assets"]["labels_id"].get(label, label) if lang == "id" else label
            has = self._values(feature, X, fam).to_numpy()[rows].astype(bool)
            yes, no = (t["assets"][f"{lang}_{k}"].format(label=label) for k in ("yes", "no"))
            return np.where(has, yes, no).astype(object)
        if concept.startswith(EVIDENCE_PREFIX):
            return evidence_texts(concept[len(EVIDENCE_PREFIX) :], X.iloc[rows], fam.iloc[rows], t["evidence"], lang)
        if concept.startswith(REPORT_PREFIX):
            return report_texts(concept[len(REPORT_PREFIX) :], X.iloc[rows], t["reports"], lang)
        if spec is None:
            return np.full(len(rows), concept, dtype=object)
        if "feature" not in spec:
            return np.full(len(rows), spec[lang], dtype=object)
        v = self._values(spec["feature"], X, fam).to_numpy()[rows]
        fmt = spec["format"]
        if fmt == "yes_no":
            b = pd.Series(v).astype(bool).to_numpy()
            return np.where(b, spec[f"{lang}_yes"], spec[f"{lang}_no"]).astype(object)
        codes, uniques = pd.factorize(v)  # each distinct value's text is built once; missing is code -1
        rendered = [_render(x, fmt, spec, lang) for x in uniques] + ["?"]
        return np.array([spec[lang].format(value=r) for r in rendered], dtype=object)[codes]

    def reasons(
        self, X: pd.DataFrame, families: pd.DataFrame, receives, has_component, folded=None, by_rule=None
    ) -> pd.Series:
        """Top reasons per family, toward its possible error, joined with ``"; "``.

        For a beneficiary the reasons that most lower its chance of eligibility come first (they
        support an inclusion error); for a non-beneficiary those that most raise it. Region (province,
        urban area, village context) is never a reason: an officer cannot check it at the door. A
        beneficiary without a PKH component gets the rule's reason alone; ``by_rule`` says which of
        them lost it to a death record (``component_died``) or meet a hard exclusion (``excluded``).
        """
        if folded is None:
            folded, _ = self.concept_contributions(X)
        values = folded.to_numpy()
        toward = values * np.where(np.asarray(receives, bool), -1.0, 1.0)[:, None]
        toward[:, np.isin(folded.columns, CONTEXT_CONCEPTS)] = -np.inf  # region is context, not a reason
        k = min(self.top_n, toward.shape[1])
        top = _top(toward, k)
        names = np.asarray(folded.columns)
        directions = self.templates["directions"][self.language]
        n, key, slots = len(X), np.zeros(len(X), dtype=np.int64), []
        for j in range(k):  # each slot's texts numbered, each built once; then each family's combination
            texts = np.empty(n, dtype=object)
            for ci in np.unique(top[:, j]):
                rows = np.flatnonzero(top[:, j] == ci)
                texts[rows] = self._texts(names[ci], rows, X, families)
            codes, uniques = pd.factorize(texts)
            up = values[np.arange(n), top[:, j]] > 0
            slots.append(
                (
                    codes,
                    up,
                    [f"{u}, {directions['down']}" for u in uniques],
                    [f"{u}, {directions['up']}" for u in uniques],
                )
            )
            key, _ = pd.factorize(key * (2 * len(uniques)) + 2 * codes + up)
        first = np.unique(key, return_index=True)[1]
        joined = np.array(
            ["; ".join((up_t if up[i] else down_t)[codes[i]] for codes, up, down_t, up_t in slots) for i in first],
            dtype=object,
        )
        out = joined[key]
        no_comp = np.asarray(receives, bool) & ~np.asarray(has_component, bool)
        out = np.where(no_comp, self.templates["no_component"][self.language], out)
        for rule, mask in (by_rule or {}).items():
            out = np.where(no_comp & np.asarray(mask, bool), self.templates[rule][self.language], out)
        return pd.Series(out, index=X.index, dtype="string")

    # ------------------------------------------------------------------------------------ global
    def global_importance(self, X: pd.DataFrame) -> pd.Series:
        """Mean |contribution| per concept, largest first."""
        folded, _ = self.concept_contributions(X)
        return folded.abs().mean().sort_values(ascending=False)

    def plots(self, X: pd.DataFrame, families: pd.DataFrame, out_dir, *, top: int = 4) -> list[Path]:
        """SHAP beeswarm of concepts and dependence plots of the top concepts, as PNG files."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import shap

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        folded, _ = self.concept_contributions(X)
        values = pd.DataFrame(index=X.index)
        for concept in folded.columns:
            spec = self.templates["concepts"].get(concept, {})
            feature = spec.get("feature") or self.asset_concepts.get(concept)
            values[concept] = self._values(feature, X, families).astype(float).to_numpy() if feature else np.nan
        paths = []
        plt.figure()
        with warnings.catch_warnings():  # concepts without one observable value (e.g. village context) are grey
            warnings.simplefilter("ignore", RuntimeWarning)
            shap.summary_plot(
                folded.to_numpy(), values, feature_names=list(folded.columns), show=False, max_display=15, rng=0
            )
        plt.title("Contributions to the log-odds of eligibility, by questionnaire item")
        paths.append(out / "shap_beeswarm.png")
        plt.savefig(paths[-1], dpi=110, bbox_inches="tight")
        plt.close("all")
        for concept in self.global_importance(X).index[:top]:
            if values[concept].isna().all():
                continue
            shap.dependence_plot(
                concept,
                folded.to_numpy(),
                values,
                feature_names=list(folded.columns),
                interaction_index=None,
                show=False,
            )
            plt.ylabel("contribution to log-odds of eligibility")
            slug = "".join(ch if ch.isalnum() else "_" for ch in concept).strip("_")
            paths.append(out / f"shap_dependence_{slug}.png")
            plt.savefig(paths[-1], dpi=110, bbox_inches="tight")
            plt.close("all")
        return paths
