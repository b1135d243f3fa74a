"""TreeSHAP contributions of a LightGBM model (path-dependent, as ``pred_contrib``), vectorised.

TreeSHAP's result for a row and a tree depends only on which way the row goes at each of the tree's
splits: its decision pattern. A batch has few distinct patterns per tree (at most ``2**splits``), so
`contributions` computes each tree's contributions once per pattern and hands them to every row of
the pattern. For a pattern and a leaf, the Shapley values of the leaf's path have a closed form.
Take the path's distinct features ``j``, their cover fractions ``z_j`` (the share of the node's
training rows that follow the path at each split on ``j``, multiplied) and ``o_j`` (1 if the row
follows the path at all of them, else 0). Feature ``k`` gets
``value * (o_k - z_k) * sum_s s! (d-1-s)! / d! * [x^s] prod_{j != k} (o_j x + z_j)``, the terms that
LightGBM's recursion (``Tree::TreeSHAP``) adds up. The result equals ``pred_contrib`` up to the
order of floating-point additions (about 1e-15).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from math import factorial

import lightgbm as lgb
import numpy as np
import pandas as pd

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_GROUP_SPLITS = 10  # splits on the paths of a group of leaves: its 2**10 decision patterns are evaluated at once
_SIDES = (("left_child", True), ("right_child", False))


@dataclass(frozen=True)
class _Split:
    feature: int
    threshold: float
    categories: tuple | None  # categories that go left, for a categorical split
    default_left: bool
    missing: str  # "None", "Zero" or "NaN"


@dataclass
class _Leaf:
    value: float
    features: list  # the path's distinct features, in order of their first split
    zero: list  # their cover fractions
    steps: list  # per feature: (split, goes left) of its splits on the path, splits numbered in the group


@dataclass
class _Group:
    """Leaves of a subtree and the splits on their paths: the unit whose contributions are
    computed once per decision pattern."""

    splits: list
    leaves: list
    features: list  # distinct split features

    def pattern_values(self, patterns: np.ndarray) -> np.ndarray:
        """Each decision pattern's value: that of the group's leaf it reaches, or 0 if none."""
        out = np.zeros(len(patterns))
        for leaf in self.leaves:
            reaches = np.ones(len(patterns), bool)
            for steps in leaf.steps:
                for s, left in steps:
                    reaches &= patterns[:, s] == left
            out[reaches] += leaf.value
        return out

    def pattern_contributions(self, patterns: np.ndarray) -> np.ndarray:
        """Contributions to each of `features` (columns) of each decision pattern (rows of booleans,
        one column per split: goes left)."""
        slot = {f: i for i, f in enumerate(self.features)}
        out = np.zeros((len(patterns), len(self.features)))
        for leaf in self.leaves:
            d = len(leaf.features)
            follows = np.ones((len(patterns), d))
            for k, steps in enumerate(leaf.steps):
                for s, left in steps:
                    follows[:, k] *= patterns[:, s] == left
            weights = np.array([factorial(s) * factorial(d - 1 - s) / factorial(d) for s in range(d)])
            for k in range(d):
                coef = np.zeros((len(patterns), d))
                coef[:, 0] = 1.0
                for j in range(d):
                    if j != k:  # times (o_j x + z_j)
                        shifted = coef[:, :-1] * follows[:, j : j + 1]
                        coef *= leaf.zero[j]
                        coef[:, 1:] += shifted
                out[:, slot[leaf.features[k]]] += leaf.value * (follows[:, k] - leaf.zero[k]) * (coef @ weights)
        return out


def _split(node: dict) -> _Split:
    cats = tuple(int(c) for c in str(node["threshold"]).split("||")) if node["decision_type"] == "==" else None
    threshold = np.nan if cats else float(node["threshold"])
    return _Split(node["split_feature"], threshold, cats, bool(node["default_left"]), node["missing_type"])


def _count(node: dict) -> float:
    return node["internal_count"] if "split_feature" in node else node["leaf_count"]


def _n_splits(node: dict) -> int:
    return 1 + _n_splits(node["left_child"]) + _n_splits(node["right_child"]) if "split_feature" in node else 0


def _tree(structure: dict) -> tuple[list, float]:
    """A dumped tree (``dump_model()["tree_info"][t]["tree_structure"]``) as groups of leaves, the
    largest subtrees whose leaves' paths have at most `_GROUP_SPLITS` splits in all (more only for a
    leaf deeper than that); and LightGBM's expected value of the tree (leaf values weighted by their
    training rows)."""
    if "split_feature" not in structure:
        return [], float(structure["leaf_value"])
    groups: list[_Group] = []
    expected = 0.0

    def collect(node: dict, path: list, group: _Group) -> None:
        nonlocal expected
        if "split_feature" not in node:
            merged: dict = {}
            for s, left, fraction in path:  # a feature split twice on the path is one player
                z, steps = merged.get(group.splits[s].feature, (1.0, []))
                merged[group.splits[s].feature] = (z * fraction, [*steps, (s, left)])
            z, steps = zip(*merged.values()) if merged else ((), ())
            group.leaves.append(_Leaf(node["leaf_value"], list(merged), list(z), list(steps)))
            expected += node["leaf_count"] / _count(structure) * node["leaf_value"]
            return
        group.splits.append(_split(node))
        s = len(group.splits) - 1
        for side, left in _SIDES:
            collect(node[side], [*path, (s, left, _count(node[side]) / _count(node))], group)

    def split_up(node: dict, ancestors: list) -> None:  # ancestors: (node, its child on the way)
        if "split_feature" in node and len(ancestors) + _n_splits(node) > _GROUP_SPLITS:
            for side, left in _SIDES:
                split_up(node[side], [*ancestors, (node, side)])
            return
        group = _Group([_split(a) for a, _ in ancestors], [], [])
        path = [(s, side == "left_child", _count(a[side]) / _count(a)) for s, (a, side) in enumerate(ancestors)]
        collect(node, path, group)
        group.features = sorted({s.feature for s in group.splits})
        groups.append(group)

    split_up(structure, [])
    return groups, expected


class _Decisions:
    """The batch's feature columns and LightGBM's decision at each distinct split, computed once."""

    def __init__(self, M: np.ndarray):
        self.M = M
        self._columns: dict = {}
        self._decisions: dict = {}

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column ``j``: values, NaN mask, and values with NaN as 0 (what a split without a missing
        branch compares)."""
        if j not in self._columns:
            x = self.M[:, j]
            nan = np.isnan(x)
            self._columns[j] = (x, nan, np.where(nan, 0.0, x) if nan.any() else x)
        return self._columns[j]

    def goes_left(self, split: _Split) -> np.ndarray:
        """LightGBM's decision (``Tree::NumericalDecision`` / ``CategoricalDecision``)."""
        if split not in self._decisions:
            x, nan, zeroed = self.column(split.feature)
            if split.categories is not None:
                whole = np.where(nan, -1, x).astype(np.int64)  # NaN and negative codes go right: no category is <0
                left = np.isin(whole, split.categories)
            elif split.missing == "NaN":
                left = np.where(nan, split.default_left, x <= split.threshold)
            else:
                left = zeroed <= split.threshold
                if split.missing == "Zero":
                    left = np.where(np.abs(zeroed) <= _ZERO, split.default_left, left)
            self._decisions[split] = left
        return self._decisions[split]

    def patterns(self, group: _Group) -> tuple[np.ndarray, np.ndarray]:
        """Decision patterns of the group (booleans, one column per split) and each row's pattern:
        all ``2**splits`` patterns, or for a leaf deeper than `_GROUP_SPLITS` those in the batch."""
        S = len(group.splits)
        if S > _GROUP_SPLITS:
            bits = np.column_stack([self.goes_left(s) for s in group.splits])
            patterns, inverse = np.unique(bits, axis=0, return_inverse=True)
            return patterns, inverse.ravel()
        code = np.zeros(len(self.M), dtype=np.uint16)
        for i, split in enumerate(group.splits):
            code |= self.goes_left(split).astype(np.uint16) << np.uint16(i)
        return None, code


def _as_matrix(X) -> np.ndarray:
    """The numbers LightGBM sees, column-major: floats as they are, pandas categories as their codes
    (NaN if unknown)."""
    if not isinstance(X, pd.DataFrame):
        return np.asfortranarray(X, dtype=np.float64)
    M = np.empty(X.shape, order="F")
    for j, c in enumerate(X.columns):
        s = X[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            M[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            M[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return M


def contributions(booster: lgb.Booster, X) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)`` for a single-output model: one column per feature
    and the expected value last; equal to it up to floating-point rounding (about 1e-15).

    Raises
    ------
    ValueError
        ``booster`` has several outputs per iteration (multiclass).
    """
    forest = _Forest.of(booster)
    decisions = _Decisions(_as_matrix(X))
    n, n_features = decisions.M.shape
    out = np.zeros((n, n_features + 1), order="F")  # column-major: a DataFrame's own layout
    out[:, -1] = forest.expected
    values = np.empty(n)
    for group, phi in zip(forest.groups, forest.contributions()):
        patterns, code = decisions.patterns(group)
        if phi is None:
            phi = group.pattern_contributions(patterns).T.copy()
        code = code.astype(np.intp)
        for f, table in zip(group.features, phi):
            np.add(out[:, f], np.take(table, code, out=values), out=out[:, f])
    return out


def raw_scores(booster: lgb.Booster, X) -> np.ndarray:
    """``booster.predict(X, raw_score=True)`` for a single-output model, from the same tables as
    `contributions`: one lookup per group of leaves and row instead of a walk down every tree; equal
    to it up to the order of floating-point additions (about 1e-15)."""
    forest = _Forest.of(booster)
    decisions = _Decisions(_as_matrix(X))
    out = np.full(len(decisions.M), forest.constant)
    for group, table in zip(forest.groups, forest.values()):
        patterns, code = decisions.patterns(group)
        out += (group.pattern_values(patterns) if table is None else table)[code]
    return out


@dataclass
class _Forest:
    """A booster's trees as groups of leaves, with what each pattern of each group is worth, worked
    out once per booster (tables of groups of a leaf deeper than `_GROUP_SPLITS`: None, those of the
    batch's patterns are worked out each time)."""

    groups: list
    expected: float  # the sum of the trees' expected values
    constant: float  # the values of trees of a single leaf
    tables: dict

    @classmethod
    def of(cls, booster: lgb.Booster) -> _Forest:
        if booster not in _FORESTS:
            model = booster.dump_model()
            if model["num_tree_per_iteration"] != 1:
                raise ValueError("only single-output models (regression, binary) are supported.")
            groups, expected, constant = [], 0.0, 0.0
            for info in model["tree_info"]:
                tree_groups, tree_expected = _tree(info["tree_structure"])
                groups += tree_groups
                expected += tree_expected
                constant += 0.0 if tree_groups else tree_expected
            _FORESTS[booster] = cls(groups, expected, constant, {})
        return _FORESTS[booster]

    def _tabulated(self, name: str, of_patterns) -> list:
        if name not in self.tables:
            tables = []
            for g in self.groups:
                S = len(g.splits)
                all_patterns = (np.arange(2**S)[:, None] >> np.arange(S)) & 1 == 1
                tables.append(of_patterns(g, all_patterns) if S <= _GROUP_SPLITS else None)
            self.tables[name] = tables
        return self.tables[name]

    def contributions(self) -> list:
        """Per group: contributions of every pattern to each of its features (features x patterns)."""
        return self._tabulated("contributions", lambda g, p: g.pattern_contributions(p).T.copy())

    def values(self) -> list:
        """Per group: the value of every pattern (that of the leaf it reaches, or 0)."""
        return self._tabulated("values", lambda g, p: g.pattern_values(p))


_FORESTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
