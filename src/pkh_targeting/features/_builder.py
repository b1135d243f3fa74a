"""PMTFeatureBuilder: families + members -> one numeric feature row per family."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..exceptions import SchemaError
from ..records.contract import load_contract
from ..records.keys import lookup
from ..rules import DEFAULT_RULES, Rules, apply_rules, load_rules
from ._assets import ASSET_ITEMS, asset_block
from ._block import Block
from ._dwelling import dwelling_block
from ._members import member_block

GROUP_COLUMNS = ["province_code", "regency_code", "district_code", "village_code", "urban"]
# indicators entering the asset index (Filmer-Pritchett first principal component)
INDEX_INPUTS = [
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
    feature_names_in_ : ndarray of str
        The record columns the features are built from, as ``families.<column>`` and
        ``members.<column>``; `transform` refuses records that lack any of them, with the difference.
    n_features_in_ : int
    feature_names_out_ : ndarray of str
    feature_dictionary_ : DataFrame
        ``name, meaning, items, concept`` for every feature.
    categorical_features_ : list of str
        Features holding category codes (province).
    rules_ : Rules
        The programme rules, loaded once in fit.
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

    def _blocks(self, fam, mem, components) -> Block:
        mb = member_block(fam, mem, components, self.rules_)
        block = Block().extend(mb).extend(dwelling_block(fam, mb.columns["household_size"])).extend(asset_block(fam))
        block.add(
            "urban",
            fam["urban"].to_numpy(dtype=bool, na_value=False),
            "village classified urban by BPS",
            "-",
            "urban area",
        )
        return block

    def _index(self, cols: dict) -> np.ndarray:
        Z = np.column_stack([cols[c] for c in INDEX_INPUTS]).astype(np.float64)
        return ((Z - self.index_mean_) / self.index_scale_) @ self.index_weights_

    def fit(self, X, y=None):
        """Learn the asset index, the regional context and the provinces from records ``X``
        (``(families, members)``, validated); no outcome is used."""
        if self.smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {self.smoothing}.")
        fam, mem = _split(X)
        self.feature_names_in_ = _contract_columns()
        _check_same_columns(self.feature_names_in_, _record_columns(fam, mem), "the contract requires")
        self.n_features_in_ = len(self.feature_names_in_)
        self.rules_ = load_rules(self.rules)
        self.rules_version_ = self.rules_.version
        components = apply_rules(fam, mem, self.rules_)
        cols = self._blocks(fam, mem, components).columns
        self._fit_index(cols)
        self._fit_context(fam, cols)
        self.provinces_ = np.asarray(sorted(fam["province_code"].dropna().unique()), dtype=object)
        block = self._assemble(fam, mem, components)
        self.feature_names_out_ = np.asarray(list(block.columns), dtype=object)
        self.feature_docs_ = block.docs
        return self

    def _fit_index(self, cols: dict) -> None:
        Z = np.column_stack([cols[c] for c in INDEX_INPUTS]).astype(np.float64)
        self.index_mean_ = Z.mean(axis=0)
        self.index_scale_ = np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
        # first principal component of the standardised indicators; richer = higher
        _, _, vt = np.linalg.svd((Z - self.index_mean_) / self.index_scale_, full_matrices=False)
        w = vt[0]
        self.index_weights_ = w if w[INDEX_INPUTS.index("floor_quality")] >= 0 else -w

    def _fit_context(self, fam: pd.DataFrame, cols: dict) -> None:
        index = self._index(cols)
        quality = cols["floor_quality"] + cols["wall_quality"] + cols["roof_quality"]
        self.context_ = {}
        for name, values in (("asset_index", index), ("dwelling_quality", quality)):
            glob = float(values.mean())
            reg = pd.Series(values).groupby(fam["regency_code"].to_numpy()).mean()
            dist = _smoothed_means(values, fam["district_code"], fam["regency_code"], reg, self.smoothing)
            vil = _smoothed_means(values, fam["village_code"], fam["district_code"], dist, self.smoothing)
            self.context_[name] = {"global": glob, "regency": reg, "district": dist, "village": vil}

    def _context(self, name: str, fam: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        c = self.context_[name]
        reg = lookup(fam["regency_code"], c["regency"])
        reg = np.where(np.isnan(reg), c["global"], reg)
        dist = lookup(fam["district_code"], c["district"])
        dist = np.where(np.isnan(dist), reg, dist)
        vil = lookup(fam["village_code"], c["village"])
        return np.where(np.isnan(vil), dist, vil), dist

    def _assemble(self, fam, mem, components) -> Block:
        block = self._blocks(fam, mem, components)
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
        return block

    def transform(self, X) -> pd.DataFrame:
        """Features of records ``X`` (``(families, members)``, validated), indexed by family_id."""
        check_is_fitted(self, "feature_names_out_")
        return self.transform_records(*_split(X))

    def transform_records(self, families, members, components: pd.DataFrame | None = None) -> pd.DataFrame:
        """`transform` of the two tables; ``components`` (their `apply_rules`), when the caller has
        them already, are not computed again."""
        check_is_fitted(self, "feature_names_out_")
        _check_same_columns(self.feature_names_in_, _record_columns(families, members))
        if components is None:
            components = apply_rules(families, members, self.rules_)
        block = self._assemble(families, members, components)
        index = pd.Index(families["family_id"].to_numpy(), name="family_id")
        return pd.DataFrame(block.columns, index=index)[self.feature_names_out_]

    def index_terms(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each input's part of the asset index for the feature matrix ``X`` (they add up to
        ``X["asset_index"]``): what the index says about each asset and dwelling item."""
        check_is_fitted(self, "index_weights_")
        Z = X[INDEX_INPUTS].to_numpy(dtype=np.float64)
        return pd.DataFrame(
            (Z - self.index_mean_) / self.index_scale_ * self.index_weights_, index=X.index, columns=INDEX_INPUTS
        )

    def get_state(self) -> dict:
        """Everything learned in fit as JSON-ready data (see `from_state`); no pickles."""
        check_is_fitted(self, "feature_names_out_")
        return {
            "params": {"rules": self.rules_.model_dump(), "smoothing": self.smoothing},
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
            "docs": {k: list(v) for k, v in self.feature_docs_.items()},
            "rules_version": self.rules_version_,
        }

    @classmethod
    def from_state(cls, state: dict) -> PMTFeatureBuilder:
        """The fitted builder whose `get_state` gave ``state``."""
        rules = Rules.model_validate(state["params"]["rules"])
        b = cls(rules=rules, smoothing=state["params"]["smoothing"])
        b.rules_ = rules
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
        b.feature_docs_ = {k: tuple(v) for k, v in state["docs"].items()}
        b.rules_version_ = state["rules_version"]
        b.feature_names_in_ = _contract_columns()
        b.n_features_in_ = len(b.feature_names_in_)
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
        return feature_dictionary(self.feature_docs_)


def feature_dictionary(docs: dict) -> pd.DataFrame:
    return pd.DataFrame([(name, *doc) for name, doc in docs.items()], columns=["name", "meaning", "items", "concept"])


def _contract_columns() -> np.ndarray:
    """The required contract columns of both tables, as ``families.<column>`` and ``members.<column>``."""
    contract = load_contract()
    return np.asarray([f"{t}.{c}" for t in ("families", "members") for c in contract[t].required], dtype=object)


def _record_columns(fam: pd.DataFrame, mem: pd.DataFrame) -> np.ndarray:
    """Which of `_contract_columns` the records have."""
    have = {f"families.{c}" for c in fam.columns} | {f"members.{c}" for c in mem.columns}
    return np.asarray([c for c in _contract_columns() if c in have], dtype=object)


def _check_same_columns(seen: np.ndarray, received: np.ndarray, against: str = "seen in fit()") -> None:
    """A `SchemaError` with the difference (skrub style: - expected, + received) if the columns differ."""
    if list(seen) == list(received):
        return
    lines = [f"Columns differ from those {against} (validate the records first: validate_records):"]
    lines += [f"- {c}" for c in seen if c not in set(received)] + [f"+ {c}" for c in received if c not in set(seen)]
    raise SchemaError("\n".join(lines))


def family_groups(families: pd.DataFrame) -> pd.DataFrame:
    """Region codes and urban flag per family, for grouping (CV folds, per-group metrics)."""
    return families.set_index(pd.Index(families["family_id"].to_numpy(), name="family_id"))[GROUP_COLUMNS]


def build_pmt_features(families: pd.DataFrame, members: pd.DataFrame, **params) -> pd.DataFrame:
    """Fit a `PMTFeatureBuilder` on these records and return their features (for one-off use)."""
    return PMTFeatureBuilder(**params).fit_transform((families, members))


def feature_docs_markdown(families: pd.DataFrame, members: pd.DataFrame) -> str:
    """The feature dictionary as Markdown, from a builder fitted on these (validated) records
    (``docs/features.md`` is this text for a synthetic registry; a test keeps it in sync)."""
    d = PMTFeatureBuilder().fit((families, members)).feature_dictionary_
    lines = [
        "# Feature dictionary",
        "",
        "Generated from code by `pkh_targeting.features.feature_docs_markdown(families, members)` on a synthetic "
        "registry; a test keeps it in sync.",
        "Items are DTSEN questionnaire numbers; `concept` is what reasons are folded into.",
        "",
        "| feature | meaning | items | concept |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{r.name}` | {r.meaning} | {r.items} | {r.concept} |" for r in d.itertuples()]
    return "\n".join(lines) + "\n"
