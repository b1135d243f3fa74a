"""Calibration is chosen by cross-fitting, and holds on a registry the model has never seen."""

import copy

import numpy as np
import pytest
from scipy.special import expit, logit

from conftest import REF
from pkh_targeting import generate_registry
from pkh_targeting.modeling._calibration import calibrate, choose_calibration, fit_calibrator


def draw(n, sharpen=1.0, seed=0):
    """Labels drawn from true probabilities, and predictions whose log-odds are ``sharpen`` times too far out."""
    rng = np.random.default_rng(seed)
    truth = expit(rng.normal(0, 1.5, n))
    y = (rng.random(n) < truth).astype(float)
    return expit(sharpen * logit(truth)), y, np.ones(n), rng.integers(0, 40, n)


def test_calibrated_probabilities_are_left_alone():
    p, y, w, g = draw(5000)
    method, out, brier = choose_calibration(p, y, w, np.ones(len(y), bool), g, 5)
    assert method == "none" and set(brier) == {"none", "sigmoid", "isotonic"}
    np.testing.assert_array_equal(out, p)


def test_an_over_confident_model_is_calibrated():
    p, y, w, g = draw(5000, sharpen=3.0)
    method, out, brier = choose_calibration(p, y, w, np.ones(len(y), bool), g, 5)
    assert method in ("sigmoid", "isotonic") and brier[method] < brier["none"] - 0.01
    fitted = fit_calibrator(method, p, y, w)
    fresh_p, fresh_y, _, _ = draw(5000, sharpen=3.0, seed=1)
    err = lambda q: np.mean((q - fresh_y) ** 2)  # noqa: E731
    assert err(calibrate(fitted, fresh_p)) < err(fresh_p) - 0.01


def test_few_calibration_rows_are_never_calibrated():
    p, y, w, g = draw(5000, sharpen=3.0)
    calib = np.zeros(len(y), bool)
    calib[:250] = True
    method, _, brier = choose_calibration(p, y, w, calib, g, 5)
    assert method == "none" and list(brier) == ["none"]
    calib[:600] = True
    assert list(choose_calibration(p, y, w, calib, g, 5)[2]) == ["none", "sigmoid"]


@pytest.fixture(scope="module")
def fresh():
    """Another country's registry, with 837 surveyed families: perfectly calibrated probabilities
    have an expected calibration error of about 0.03 on so many by chance alone, 0.05 on 281."""
    return generate_registry(20_000, seed=21, regions_seed=5, reference_date=REF)


@pytest.mark.parametrize("fixture", ["fitted_model", "evidence_model"])
def test_probabilities_hold_on_a_registry_never_seen(fixture, fresh, request):
    """Survey labels are a random sample: their expected calibration error on a fresh registry is
    under 0.06, and the chosen calibration never worse than the raw probabilities by more than 0.01."""
    model = request.getfixturevalue(fixture)
    evidence = {"registry_records": fresh.registry_records} if model.registry_ is not None else {}
    kw = {"reference_date": REF, **evidence}
    held = model.evaluate(fresh.families, fresh.members, **kw)
    assert held["survey_ece"] < 0.06, held
    assert held["survey_ece"] <= held["survey_raw_ece"] + 0.01
    assert held["survey_brier"] <= held["survey_raw_brier"] + 0.005


def test_the_raw_figures_are_those_of_the_model_without_its_calibration(fitted_model, fresh):
    model, raw = copy.copy(fitted_model), copy.copy(fitted_model)
    model.calibrator_ = {"method": "sigmoid", "a": 3.0, "b": 0.0}  # three times over-confident
    raw.calibrator_ = {"method": "none"}
    held, uncalibrated = (m.evaluate(fresh.families, fresh.members, reference_date=REF) for m in (model, raw))
    for k in ("ece", "brier"):
        assert held[f"survey_raw_{k}"] == uncalibrated[f"survey_{k}"]
    assert held["survey_ece"] > uncalibrated["survey_ece"] + 0.05
