"""A fitted `WelfareModel` as JSON-ready data and back (LightGBM trees as text, never pickles)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from ._design import Design
from ._kernel import KernelRidge
from ._welfare import WelfareModel


def welfare_state(model: WelfareModel) -> dict:
    """A fitted WelfareModel as JSON-ready data (LightGBM trees as text); see `welfare_from_state`."""
    parts = {str(key): _part_state(m) for key, m in model.models_.items()}
    return {
        "params": model.get_params(),
        "parts": parts,
        "part_keys": [_jsonable(k) for k in model.parts_],
        "feature_names_in": list(model.feature_names_in_),
        "smearing": model.smearing_,
    }


def _part_state(m: dict) -> dict:
    if "selection" in m:
        return {**_part_state({k: v for k, v in m.items() if k != "selection"}), "selection": m["selection"]}
    if "stack" in m:
        return {"stack": [_part_state(p) for p in m["stack"]], "weights": m["weights"], "intercept": m["intercept"]}
    if "ols" in m:
        return {"design": m["design"].state(), "coef": m["ols"].coef_.tolist(), "intercept": float(m["ols"].intercept_)}
    if "kernel" in m:
        return {"kernel": m["kernel"].state()}
    return {"booster": m["lgbm"].booster_.model_to_string(), "categories": m["categories"]}


def _part_from_state(raw: dict) -> dict:
    if "selection" in raw:
        return {**_part_from_state({k: v for k, v in raw.items() if k != "selection"}), "selection": raw["selection"]}
    if "stack" in raw:
        return {
            "stack": [_part_from_state(p) for p in raw["stack"]],
            "weights": raw["weights"],
            "intercept": raw["intercept"],
        }
    if "coef" in raw:
        return {"design": Design.from_state(raw["design"]), "ols": _OLS(raw["coef"], raw["intercept"])}
    if "kernel" in raw:
        return {"kernel": KernelRidge.from_state(raw["kernel"])}
    return {"lgbm": _Booster(raw["booster"]), "categories": raw["categories"]}


def _jsonable(v):
    return v.item() if hasattr(v, "item") else v


class _Booster:
    """LightGBM booster loaded from text, where the fitted model had its own (``booster_``)."""

    def __init__(self, text: str):
        self.booster_ = lgb.Booster(model_str=text)


class _OLS:
    def __init__(self, coef, intercept):
        self.coef_, self.intercept_ = np.asarray(coef), intercept


def welfare_from_state(state: dict) -> WelfareModel:
    model = WelfareModel(**state["params"])
    model.parts_ = state["part_keys"]
    model.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
    model.smearing_ = state["smearing"]
    model.models_ = {}
    for key, raw in zip(model.parts_, state["parts"].values()):
        model.models_[key] = _part_from_state(raw)
    return model
