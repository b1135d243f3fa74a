"""PMTFeatureBuilder: families + members -> one numeric feature row per family."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._keys import lookup
from ..exceptions import SchemaError
from ..rules import DEFAULT_RULES, load_rules
from ._blocks import ASSET_ITEMS, Block, asset_block, dwelling_block, member_block

GROUP_COLUMNS = ["province_code", "regency_code", "district_code", "village_code", "urban"]
# indicators entering the asset index (Filmer-Pritchett first principal component)
_INDEX_INPUTS = [
    *ASSET_ITEMS,
    "floor_quality",
    "wall_quality",
    "roof_quality",
    "improved_water",
    "improved_sanitation",
    "electricity_va",
    "cooking_fuel_clean",
    "cooking_fuel_solid_or_kerosene",
    "log_floor_area_per_capita",
    "has_livestock",
]


def _split(X):
    """Accept ``(families, members)`` or any object with ``.families`` and ``.members``."""
    if hasattr(X, "families") and hasattr(X, "members"):
        return X.families, X.members
    if isinstance(X, (tuple, list)) and len(X) == 2:
        return X[0], X[1]
    raise TypeError(f"X must be (families, members) or a ValidationResult, got {type(X).__name__}.")


def _smoothed_means(
    values: np.ndarray, keys: pd.Series, parent: pd.Series, parent_means: pd.Series, k: float
) -> pd.Series:
    """Means per key, shrunk toward the parent's mean with weight ``k`` (empirical Bayes)."""
    df = pd.DataFrame({"v": values, "key": keys.to_numpy(), "parent": parent.to_numpy()})
    g = df.groupby("key", observed=True).agg(s=("v", "sum"), n=("v", "size"), parent=("parent", "first"))
    prior = parent_means.reindex(g["parent"]).to_numpy()
    return pd.Series((g["s"].to_numpy() + k * prior) / (g["n"].to_numpy() + k), index=g.index)


class PMTFeatureBuilder(TransformerMixin, BaseEstimator):
    """Turn registry records into proxy-means-test features, one float32 row per family.

    Member aggregates (composition, head, education, work, health, PKH components), dwelling
    (floor area per capita, material quality and dummies, BPS improved water and sanitation,
    electricity, cooking fuel, tenure), assets (each 502 item, land, livestock in tropical livestock
    units, internet), an asset index and regional context learned in ``fit`` only (without any
    outcome), urban and province. Region codes are not features: get them with `family_groups`.

    Parameters
    ----------
    rules : str, Path or Rules, default="pkh-2025"
        Programme rules used for the component features.
    smoothing : float, default=20.0
        Pseudo-count that shrinks small villages' (districts') context toward their district
        (regency).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    feature_dictionary_ : DataFrame
        ``name, meaning, items, concept`` for every feature.
    categorical_features_ : list of str
        Features holding category codes (province).
    rules_version_ : str

    Examples
    --------
    >>> from pkh_targeting import generate_registry
    >>> reg = generate_registry(300, seed=0)
    >>> X = PMTFeatureBuilder().fit_transform((reg.families, reg.members))
    >>> X.shape[0], X.index.name, X.dtypes.unique().tolist()
    (300, 'family_id', [dtype('float32')])
    """

    def __init__(self, *, rules=DEFAULT_RULES, smoothing=20.0):
        self.rules = rules
        self.smoothing = smoothing

    def _blocks(self, fam, mem):
        rules = load_rules(self.rules)
        mb = member_block(fam, mem, rules)
        db = dwelling_block(fam, mb.columns["household_size"])
        ab = asset_block(fam)
        base = Block()
        for b in (mb, db, ab):
            base.columns.update(b.columns)
            base.docs.update(b.docs)
        base.add(
            "urban",
            fam["urban"].to_numpy(dtype=bool, na_value=False),
            "village classified urban by BPS",
            "-",
            "urban area",
        )
        return base

    def _index(self, cols: dict) -> np.ndarray:
        Z = np.column_stack([cols[c] for c in _INDEX_INPUTS]).astype(np.float64)
        return ((Z - self.index_mean_) / self.index_scale_) @ self.index_weights_

    def fit(self, X, y=None):
        if self.smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {self.smoothing}.")
        fam, mem = _split(X)
        _check_columns(fam, mem)
        self.rules_version_ = load_rules(self.rules).version
        cols = self._blocks(fam, mem).columns
        Z = np.column_stack([cols[c] for c in _INDEX_INPUTS]).astype(np.float64)
        self.index_mean_ = Z.mean(axis=0)
        self.index_scale_ = np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
        # first principal component of the standardised indicators; richer = higher
        _, _, vt = np.linalg.svd((Z - self.index_mean_) / self.index_scale_, full_matrices=False)
        w = vt[0]
        self.index_weights_ = w if w[_INDEX_INPUTS.index("floor_quality")] >= 0 else -w
        index = self._index(cols)
        quality = cols["floor_quality"] + cols["wall_quality"] + cols["roof_quality"]
        self.context_ = {}
        for name, values in (("asset_index", index), ("dwelling_quality", quality)):
            glob = float(values.mean())
            reg = pd.Series(values).groupby(fam["regency_code"].to_numpy()).mean()
            dist = _smoothed_means(values, fam["district_code"], fam["regency_code"], reg, self.smoothing)
            vil = _smoothed_means(values, fam["village_code"], fam["district_code"], dist, self.smoothing)
            self.context_[name] = {"global": glob, "regency": reg, "district": dist, "village": vil}
        self.provinces_ = np.asarray(sorted(fam["province_code"].dropna().unique()), dtype=object)
        out = self._assemble(fam, mem)
        self.feature_names_out_ = np.asarray(out.columns, dtype=object)
        self.n_features_in_ = 2
        return self

    def _context(self, name: str, fam: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        c = self.context_[name]
        reg = lookup(fam["regency_code"], c["regency"])
        reg = np.where(np.isnan(reg), c["global"], reg)
        dist = lookup(fam["district_code"], c["district"])
        dist = np.where(np.isnan(dist), reg, dist)
        vil = lookup(fam["village_code"], c["village"])
        return np.where(np.isnan(vil), dist, vil), dist

    def _assemble(self, fam, mem) -> pd.DataFrame:
        block = self._blocks(fam, mem)
        block.add(
            "asset_index",
            self._index(block.columns),
            "asset index: first principal component of assets and dwelling (learned in fit)",
            "302-506",
            "assets overall",
        )
        for name, label in (("asset_index", "asset index"), ("dwelling_quality", "dwelling quality")):
            vil, dist = self._context(name, fam)
            block.add(
                f"village_mean_{name}",
                vil,
                f"village mean {label} (learned in fit, smoothed toward the district)",
                "104",
                "village context",
            )
            block.add(
                f"district_mean_{name}",
                dist,
                f"district mean {label} (learned in fit, smoothed toward the regency)",
                "103",
                "village context",
            )
        province = pd.Index(self.provinces_).get_indexer(fam["province_code"].to_numpy()).astype(np.float32)
        block.add(
            "province",
            np.where(province < 0, np.nan, province),
            "province (category code learned in fit)",
            "101",
            "province",
        )
        self._docs = block.docs
        return pd.DataFrame(block.columns, index=pd.Index(fam["family_id"].to_numpy(), name="family_id"))

    def transform(self, X) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_out_")
        fam, mem = _split(X)
        _check_columns(fam, mem)
        out = self._assemble(fam, mem)
        return out[self.feature_names_out_]

    def get_state(self) -> dict:
        """Everything learned in fit as JSON-ready data (see `from_state`); no pickles."""
        check_is_fitted(self, "feature_names_out_")
        rules = load_rules(self.rules)
        return {
            "params": {"rules": rules.model_dump(), "smoothing": self.smoothing},
            "index": {
                "mean": self.index_mean_.tolist(),
                "scale": self.index_scale_.tolist(),
                "weights": self.index_weights_.tolist(),
            },
            "context": {
                name: {"global": c["global"], **{lvl: c[lvl].to_dict() for lvl in ("regency", "district", "village")}}
                for name, c in self.context_.items()
            },
            "provinces": list(self.provinces_),
            "feature_names_out": list(self.feature_names_out_),
            "docs": {k: list(v) for k, v in self._docs.items()},
            "rules_version": self.rules_version_,
        }

    @classmethod
    def from_state(cls, state: dict) -> PMTFeatureBuilder:
        from ..rules import Rules

        b = cls(rules=Rules.model_validate(state["params"]["rules"]), smoothing=state["params"]["smoothing"])
        b.index_mean_ = np.asarray(state["index"]["mean"])
        b.index_scale_ = np.asarray(state["index"]["scale"])
        b.index_weights_ = np.asarray(state["index"]["weights"])
        b.context_ = {
            name: {
                "global": c["global"],
                **{lvl: pd.Series(c[lvl], dtype="float64") for lvl in ("regency", "district", "village")},
            }
            for name, c in state["context"].items()
        }
        b.provinces_ = np.asarray(state["provinces"], dtype=object)
        b.feature_names_out_ = np.asarray(state["feature_names_out"], dtype=object)
        b._docs = {k: tuple(v) for k, v in state["docs"].items()}
        b.rules_version_ = state["rules_version"]
        b.n_features_in_ = 2
        return b

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_

    @property
    def categorical_features_(self) -> list[str]:
        return ["province"]

    @property
    def feature_dictionary_(self) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_out_")
        return feature_dictionary(self._docs)


def feature_dictionary(docs: dict) -> pd.DataFrame:
    return pd.DataFrame([(name, *doc) for name, doc in docs.items()], columns=["name", "meaning", "items", "concept"])


def _check_columns(fam: pd.DataFrame, mem: pd.DataFrame) -> None:
    from ..schema import load_contract

    contract = load_contract()
    for table, df in (("families", fam), ("members", mem)):
        missing = [c for c in contract[table].required if c not in df.columns]
        if missing:
            raise SchemaError(f"{table} misses column(s) {missing}; validate the records first (validate_records).")


def family_groups(families: pd.DataFrame) -> pd.DataFrame:
    """Region codes and urban flag per family, for grouping (CV folds, per-group metrics)."""
    return families.set_index(pd.Index(families["family_id"].to_numpy(), name="family_id"))[GROUP_COLUMNS]


def build_pmt_features(families: pd.DataFrame, members: pd.DataFrame, **params) -> pd.DataFrame:
    """Fit a `PMTFeatureBuilder` on these records and return their features (for one-off use)."""
    return PMTFeatureBuilder(**params).fit_transform((families, members))


def feature_docs_markdown() -> str:
    """The feature dictionary as Markdown (``docs/features.md`` is this text)."""
    from ..synth import generate_registry

    reg = generate_registry(200, seed=0, reference_date="2025-01-01")
    d = PMTFeatureBuilder().fit((reg.families, reg.members)).feature_dictionary_
    lines = [
        "# Feature dictionary",
        "",
        "Generated from code by `pkh_targeting.features.feature_docs_markdown()`; a test keeps it in sync.",
        "Items are DTSEN questionnaire numbers; `concept` is what reasons are folded into.",
        "",
        "| feature | meaning | items | concept |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{r.name}` | {r.meaning} | {r.items} | {r.concept} |" for r in d.itertuples()]
    return "\n".join(lines) + "\n"
