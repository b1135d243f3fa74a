"""The reasons as pkh-targeting 0.x explained them before they were made fast (#23), kept as the
oracle the fast implementation must equal: LightGBM's own ``pred_contrib``, DataFrame arithmetic,
and every text built row by row. Not part of the library; only tests import it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pkh_targeting.explain import (
    CONTEXT_CONCEPTS,
    EVIDENCE_PREFIX,
    REPORT_PREFIX,
    WELFARE_CONCEPT,
    Explainer,
    _amount,
    _decimal,
)
from pkh_targeting.features import ASSET_ITEMS
from pkh_targeting.modeling._welfare import _as_lgbm


def _welfare_contributions(m, X):
    if "stack" in m:
        parts = [_welfare_contributions(part, X) for part in m["stack"]]
        contrib = sum(wt * c for wt, (c, _) in zip(m["weights"], parts))
        base = sum(wt * b for wt, (_, b) in zip(m["weights"], parts)) + m["intercept"]
        return contrib, base
    if "ols" in m:
        d = m["design"]
        Z = (d.transform(X).toarray() - np.asarray(d.means)) * m["ols"].coef_
        fold = (np.asarray(d.sources())[:, None] == np.asarray(X.columns)[None, :]).astype(np.float64)
        base = np.full(len(X), float(m["ols"].intercept_ + np.dot(m["ols"].coef_, d.means)))
        return pd.DataFrame(Z @ fold, index=X.index, columns=X.columns), base
    if "kernel" in m:  # checked term by term in test_kernel
        contrib, base = m["kernel"].contributions(X)
        return pd.DataFrame(contrib, index=X.index, columns=X.columns), base
    booster = m["lgbm"].booster_
    C = booster.predict(_as_lgbm(X, list(m["categories"]), m["categories"]), pred_contrib=True)
    return pd.DataFrame(C[:, :-1], index=X.index, columns=X.columns), C[:, -1]


def _report_texts(kind: str, X: pd.DataFrame, t: dict, lang: str) -> np.ndarray:
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


def _evidence_texts(source: str, X: pd.DataFrame, fam: pd.DataFrame, t: dict, lang: str) -> np.ndarray:
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


class ReferenceExplainer(Explainer):
    """`Explainer` with the contributions and reasons of before #23."""

    # ---------------------------------------------------------------------------- contributions
    def contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Log-odds contributions per model feature (the welfare estimate shared out) and the base."""
        model = self.model
        B = model.classifier_.predict(X, pred_contrib=True)
        cols = list(X.columns)
        trees = pd.DataFrame(B[:, :-1], index=X.index, columns=cols)
        base = B[:, -1].copy()
        if model.report_shift(X) is not None:  # the reports' prior shift is theirs, in log-odds
            for c in [c for c in cols if c.startswith("rep_") and c.endswith("_score")]:
                trees[c] += np.nan_to_num(X[c].to_numpy(dtype=np.float64))
        if model.welfare_ is None:
            return self._share_index(trees, X), base
        c, base_w = _welfare_contributions(model.welfare_.models_[None], X[model.welfare_.feature_names_in_])
        c = c.reindex(columns=[col for col in X.columns if col != "welfare_gap"], fill_value=0.0)
        gap = X["welfare_gap"].to_numpy(dtype=np.float64)
        prior = model.prior_log_odds
        channel = trees.pop("welfare_gap").to_numpy() + prior(gap) - prior(base_w)
        spread = gap - base_w
        ok = np.abs(spread) > 1e-9
        share = np.where(ok[:, None], c.to_numpy() / np.where(ok, spread, 1.0)[:, None], 0.0)
        out = trees + share * channel[:, None]
        welfare = pd.DataFrame({WELFARE_CONCEPT: np.where(ok, 0.0, channel)}, index=X.index)
        return pd.concat([self._share_index(out, X), welfare], axis=1), base + prior(base_w)

    def _share_index(self, contrib: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
        """The asset index's contribution shared out over the assets and dwelling items behind it,
        in proportion to their parts of the index (where it is not about zero)."""
        if "asset_index" not in contrib:
            return contrib
        terms = self.model.builder_.index_terms(X)
        index = terms.sum(axis=1).to_numpy()
        ok = np.abs(index) > 1e-6
        share = np.where(ok[:, None], terms.to_numpy() / np.where(ok, index, 1.0)[:, None], 0.0)
        c = contrib["asset_index"].to_numpy()
        out = contrib.copy()
        out[terms.columns] += share * c[:, None]
        out["asset_index"] = np.where(ok, 0.0, c)
        return out

    def concept_contributions(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Contributions summed per questionnaire concept (e.g. all floor dummies -> floor material)."""
        contrib, base = self.contributions(X)
        names = pd.Index([self.concepts.get(c, c) for c in contrib.columns])
        concepts = names.unique()
        fold = (names.to_numpy()[:, None] == concepts.to_numpy()[None, :]).astype(np.float64)
        return pd.DataFrame(contrib.to_numpy() @ fold, index=X.index, columns=concepts), base

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
            return _evidence_texts(concept[len(EVIDENCE_PREFIX) :], X.iloc[rows], fam.iloc[rows], t["evidence"], lang)
        if concept.startswith(REPORT_PREFIX):
            return _report_texts(concept[len(REPORT_PREFIX) :], X.iloc[rows], t["reports"], lang)
        if spec is None:
            return np.full(len(rows), concept, dtype=object)
        if "feature" not in spec:
            return np.full(len(rows), spec[lang], dtype=object)
        v = self._values(spec["feature"], X, fam).to_numpy()[rows]
        fmt = spec["format"]
        if fmt == "yes_no":
            b = pd.Series(v).astype(bool).to_numpy()
            return np.where(b, spec[f"{lang}_yes"], spec[f"{lang}_no"]).astype(object)
        if fmt == "text":
            rendered = ["?" if pd.isna(x) else str(x) for x in v]
        elif fmt == "code":
            codes = spec["codes"][lang]
            rendered = [codes.get(int(x), str(x)) if pd.notna(x) else "?" for x in v]
        elif fmt == "int":
            rendered = [f"{int(x)}" if pd.notna(x) else "?" for x in v]
        elif fmt == "percent":
            rendered = [f"{100 * float(x):.0f}%" if pd.notna(x) else "?" for x in v]
        else:
            rendered = [f"{round(float(x), 1) + 0.0:.1f}" if pd.notna(x) else "?" for x in v]  # + 0.0: no "-0.0"
        return np.array([spec[lang].format(value=r) for r in rendered], dtype=object)

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
        top = np.argsort(-toward, axis=1, kind="stable")[:, :k]
        names = np.asarray(folded.columns)
        directions = self.templates["directions"][self.language]
        out = None
        for j in range(k):
            texts = np.empty(len(X), dtype=object)
            for ci in np.unique(top[:, j]):
                rows = np.flatnonzero(top[:, j] == ci)
                texts[rows] = self._texts(names[ci], rows, X, families)
            up = values[np.arange(len(X)), top[:, j]] > 0
            part = pd.Series(texts, index=X.index) + ", " + np.where(up, directions["up"], directions["down"])
            out = part if out is None else out + "; " + part
        out = out.astype("string")
        no_comp = np.asarray(receives, bool) & ~np.asarray(has_component, bool)
        out = out.mask(pd.Series(no_comp, index=X.index), self.templates["no_component"][self.language])
        for rule, mask in (by_rule or {}).items():
            out = out.mask(
                pd.Series(no_comp & np.asarray(mask, bool), index=X.index), self.templates[rule][self.language]
            )
        return out
