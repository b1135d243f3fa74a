"""Training configuration: ``configs/train.yaml`` -> frozen pydantic models -> explicit arguments."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .rules import DEFAULT_RULES


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LightGBMParams(_Frozen):
    """LightGBM settings. Compact trees keep TreeSHAP explanations fast (depth matters most)."""

    n_estimators: int = Field(default=600, ge=1, description="upper bound; early stopping picks the number")
    learning_rate: float = Field(default=0.05, gt=0)
    num_leaves: int = Field(default=31, ge=2)
    max_depth: int = Field(default=6, ge=-1)
    min_child_samples: int = Field(default=40, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = Field(default=1, ge=0)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_lambda: float = Field(default=1.0, ge=0)
    early_stopping_rounds: int = Field(default=50, ge=1)


class WelfareConfig(_Frozen):
    """How survey consumption is turned into the welfare criterion."""

    kind: Literal["auto", "stacked", "lightgbm", "ols"] = "auto"
    lightgbm: LightGBMParams = LightGBMParams(
        n_estimators=400,
        learning_rate=0.03,
        num_leaves=7,
        max_depth=3,
        min_child_samples=50,
        colsample_bytree=0.7,
        reg_lambda=10.0,
    )
    poverty_line: dict[str, float] = Field(
        default={"urban": 629_561, "rural": 580_349},
        description="consumption is divided by the line of its area before ranking (BPS, March 2025)",
    )


class CVConfig(_Frozen):
    group_col: Literal["province_code", "regency_code", "district_code", "village_code"] = "regency_code"
    n_splits: int = Field(default=5, ge=2)


class TrainConfig(_Frozen):
    """Everything `TargetingModel` needs besides the data."""

    rules: str = DEFAULT_RULES
    welfare: WelfareConfig = WelfareConfig()
    lightgbm: LightGBMParams = LightGBMParams()
    monotone_welfare: bool = Field(default=True, description="eligibility can only fall as estimated welfare rises")
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = Field(
        default="auto", description="auto: the lowest cross-fitted Brier score of none, sigmoid and isotonic"
    )
    cv: CVConfig = CVConfig()
    selection_weight_clip: float = Field(
        default=0.99, gt=0.5, le=1.0, description="quantile at which inverse verification weights are clipped"
    )
    seed: int = 0
    n_jobs: int | None = Field(
        default=None, ge=1, description="LightGBM's threads; by default OMP_NUM_THREADS where set, else every core"
    )

    def with_overrides(self, **overrides) -> TrainConfig:
        """This config with fields changed (nested ones key by key, e.g. ``cv={"n_splits": 10}``), validated."""
        return TrainConfig.model_validate(_merge(self.model_dump(), overrides)) if overrides else self


def _merge(base: dict, update: dict) -> dict:
    """``base`` with ``update`` merged in, nested dictionaries key by key."""
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Read a training config (YAML); the built-in ``configs/train.yaml`` without a path."""
    if path is None:
        text, source = (
            resources.files("pkh_targeting.configs").joinpath("train.yaml").read_text("utf-8"),
            "configs/train.yaml",
        )
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    try:
        return TrainConfig.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        exc.add_note(f"while reading {source}")
        raise
