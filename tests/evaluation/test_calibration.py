import numpy as np
import pytest

from pediatric_pneumonia.evaluation.calibration import (
    apply_calibration,
    brier_score,
    calibration_from_validation,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_curve,
)
from pediatric_pneumonia.parameters import check_parameters

CALIBRATION = check_parameters("calibration", {"method": "temperature", "bins": 10})


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))


def miscalibrated(sharpening: float, count: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), and a model that reports sigmoid(sharpening x z)."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 2, count)
    labels = (rng.random(count) < sigmoid(true_logits)).astype(np.uint8)
    return labels, sigmoid(sharpening * true_logits)


def test_temperature_scaling_undoes_an_overconfident_model():
    labels, probabilities = miscalibrated(sharpening=3.0)

    calibration = calibration_from_validation(labels, probabilities, CALIBRATION)

    assert calibration["temperature"] == pytest.approx(3.0, rel=0.15)
    assert calibration["validation_nll_after"] < calibration["validation_nll_before"] - 0.05
    assert calibration["validation_ece_after"] < calibration["validation_ece_before"] / 2
    assert calibration["validation_brier_after"] < calibration["validation_brier_before"]
    calibrated = apply_calibration(probabilities, calibration)
    assert negative_log_likelihood(labels, calibrated) == pytest.approx(calibration["validation_nll_after"])


def test_an_underconfident_model_gets_a_temperature_below_one():
    labels, probabilities = miscalibrated(sharpening=0.5)
    assert fit_temperature(labels, probabilities) == pytest.approx(0.5, rel=0.15)


def test_temperature_keeps_the_half_way_point_and_the_order():
    probabilities = np.array([0.02, 0.3, 0.5, 0.7, 0.99])
    calibrated = apply_calibration(probabilities, {"method": "temperature", "temperature": 2.0})
    assert calibrated[2] == pytest.approx(0.5)
    assert np.all(np.diff(calibrated) > 0)
    assert calibrated[0] > probabilities[0] and calibrated[-1] < probabilities[-1]  # T > 1 softens


def test_method_none_leaves_probabilities_as_they_are():
    labels, probabilities = miscalibrated(sharpening=3.0, count=500)
    calibration = calibration_from_validation(labels, probabilities, check_parameters("calibration", {"method": "none", "bins": 10}))
    assert calibration["temperature"] == 1.0
    assert calibration["validation_nll_after"] == calibration["validation_nll_before"]
    assert apply_calibration(probabilities, calibration) is probabilities


def test_one_class_validation_cannot_be_calibrated():
    with pytest.raises(ValueError, match=r"only label\(s\) \[1\].*both classes"):
        calibration_from_validation(np.ones(20, dtype=np.uint8), np.linspace(0.1, 0.9, 20), CALIBRATION)


def test_brier_and_ece_by_hand():
    labels = np.array([0, 1, 1, 0])
    probabilities = np.array([0.1, 0.3, 0.8, 0.9])
    assert brier_score(labels, probabilities) == pytest.approx((0.01 + 0.49 + 0.04 + 0.81) / 4)
    # Two bins: [0, 0.5) holds 0.1 and 0.3 (mean 0.2, half positive); [0.5, 1] holds 0.8 and 0.9
    # (mean 0.85, half positive). ECE = 2/4 x 0.3 + 2/4 x 0.35.
    assert expected_calibration_error(labels, probabilities, bins=2) == pytest.approx(0.325)
    curve = reliability_curve(labels, probabilities, bins=2)
    assert curve["count"] == [2, 2]
    assert curve["mean_probability"] == pytest.approx([0.2, 0.85])
    assert curve["observed_rate"] == pytest.approx([0.5, 0.5])


def test_ece_of_a_probability_of_one_falls_in_the_last_bin():
    assert reliability_curve(np.array([1, 1]), np.array([1.0, 0.95]), bins=10)["count"] == [2]


@pytest.mark.parametrize(
    "calibration, message",
    [
        ({"method": "platt", "bins": 15}, "Unknown calibration.method 'platt'"),
        ({"method": "temperature", "bins": 0}, "calibration.bins must be a positive integer"),
        ({"method": "temperature", "bins": 2.5}, "calibration.bins must be a positive integer"),
    ],
)
def test_unusable_calibration_parameters_are_refused(calibration, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("calibration", calibration)
