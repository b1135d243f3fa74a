"""LightGBM's own TreeSHAP contributions, computed once per distinct decision pattern of each tree.

TreeSHAP's result for a row and a tree depends only on which way the row goes at each of the tree's
splits. A shallow tree has few such patterns in a batch (at most ``2**splits``, and far fewer in
practice), so `contributions` asks LightGBM (``pred_contrib``) for one row per pattern and tree, and
hands the result to every row of the pattern: the same numbers as one ``pred_contrib`` call on the
whole batch, up to the order of floating-point additions, at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_MAX_PATTERN_SHARE = 0.25  # a tree with more distinct patterns than this share of the rows is explained row by row


@dataclass(frozen=True)
class _Split:
    feature: int
    threshold: float
    categories: np.ndarray | None  # categories that go left, for a categorical split
    default_left: bool
    missing: str  # "None", "Zero" or "NaN"


def _splits(node: dict, out: list) -> None:
    if "split_feature" not in node:
        return
    cats = None
    if node["decision_type"] == "==":
        cats = np.asarray([int(c) for c in str(node["threshold"]).split("||")], dtype=np.int64)
    out.append(
        _Split(node["split_feature"], float(node["threshold"]) if cats is None else np.nan, cats,
               bool(node["default_left"]), node["missing_type"])
    )  # fmt: skip
    _splits(node["left_child"], out)
    _splits(node["right_child"], out)


class _Columns:
    """The batch's feature columns, each contiguous, with what decisions need of them precomputed."""

    def __init__(self, M: np.ndarray):
        self.M = np.asfortranarray(M)
        self._cache: dict = {}

    def get(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column ``j``: values, NaN mask, and values with NaN as 0 (what a split without a missing
        branch compares)."""
        if j not in self._cache:
            x = self.M[:, j]
            nan = np.isnan(x)
            self._cache[j] = (x, nan, np.where(nan, 0.0, x) if nan.any() else x)
        return self._cache[j]


def _goes_left(split: _Split, cols: _Columns) -> np.ndarray:
    """LightGBM's decision at one split (``Tree::NumericalDecision`` / ``CategoricalDecision``)."""
    x, nan, zeroed = cols.get(split.feature)
    if split.categories is not None:
        whole = np.where(nan, -1, x).astype(np.int64)  # NaN and negative codes go right: no category is negative
        return np.isin(whole, split.categories)
    if split.missing == "NaN":
        return np.where(nan, split.default_left, x <= split.threshold)
    left = zeroed <= split.threshold
    if split.missing == "Zero":
        return np.where(np.abs(zeroed) <= _ZERO, split.default_left, left)
    return left


def _as_matrix(X) -> np.ndarray:
    """The numbers LightGBM sees: floats as they are, pandas categories as their codes (NaN if unknown)."""
    if not isinstance(X, pd.DataFrame):
        return np.asarray(X, dtype=np.float64)
    cols = []
    for c in X.columns:
        s = X[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.float64)
            cols.append(np.where(codes < 0, np.nan, codes))
        else:
            cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(cols) if cols else np.empty((len(X), 0))


def contributions(booster: lgb.Booster, X) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)`` for a single-output model: one column per feature
    and the expected value last; equal to it up to floating-point rounding (about 1e-15).

    Raises
    ------
    ValueError
        ``booster`` has several outputs per iteration (multiclass).
    """
    model = booster.dump_model()
    if model["num_tree_per_iteration"] != 1:
        raise ValueError("contributions supports single-output models only (regression, binary).")
    cols = _Columns(_as_matrix(X))
    M = cols.M
    n, out = len(M), np.zeros((len(M), M.shape[1] + 1), order="F")
    for t, info in enumerate(model["tree_info"]):
        splits: list[_Split] = []
        _splits(info["tree_structure"], splits)
        if not splits:  # a single leaf: its value is the expected value
            out[:, -1] += booster.predict(M[:1], pred_contrib=True, start_iteration=t, num_iteration=1)[0, -1]
            continue
        rows, inverse = _patterns(splits, cols)
        if len(rows) > _MAX_PATTERN_SHARE * n:
            out += booster.predict(M, pred_contrib=True, start_iteration=t, num_iteration=1)
            continue
        phi = booster.predict(M[rows], pred_contrib=True, start_iteration=t, num_iteration=1)
        for j in {s.feature for s in splits} | {M.shape[1]}:
            out[:, j] += phi[inverse, j]
    return np.ascontiguousarray(out)


def _patterns(splits: list[_Split], cols: _Columns) -> tuple[np.ndarray, np.ndarray]:
    """One row of each distinct decision pattern of a tree, and each row's pattern."""
    if len(splits) <= 62:
        code = np.zeros(len(cols.M), dtype=np.int64)
        for i, split in enumerate(splits):
            code |= _goes_left(split, cols).astype(np.int64) << i
        inverse, uniques = pd.factorize(code)
    else:
        bits = np.column_stack([_goes_left(split, cols) for split in splits])
        _, inverse = np.unique(bits, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        uniques = np.arange(inverse.max() + 1)
    rows = np.empty(len(uniques), dtype=np.int64)
    rows[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)  # the first row of each pattern
    return rows, inverse
