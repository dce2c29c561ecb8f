"""Temperature scaling and calibration scores of a three-class model's (N, 3) probabilities."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import log_loss

from pediatric_pneumonia.evaluation.calibration import (
    apply_calibration,
    brier_score,
    calibration_from_validation,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from pediatric_pneumonia.parameters import check_parameters

CALIBRATION = check_parameters("calibration", {"method": "temperature", "bins": 10})


def overconfident(count: int = 3000, true_temperature: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z / 2) and a model that says softmax(z): too sure by a temperature of 2."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (count, 3))
    truth = softmax(logits / true_temperature, axis=1)
    labels = np.array([rng.choice(3, p=row) for row in truth])
    return labels, softmax(logits, axis=1)


def test_the_fitted_temperature_recovers_the_one_that_made_the_labels():
    labels, probabilities = overconfident()

    assert fit_temperature(labels, probabilities) == pytest.approx(2.0, rel=0.1)


def test_a_temperature_keeps_each_images_ranking_of_the_classes():
    _, probabilities = overconfident(50)

    calibrated = apply_calibration(probabilities, {"temperature": 1.7})

    np.testing.assert_allclose(calibrated, softmax(np.log(probabilities) / 1.7, axis=1), atol=1e-9)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argsort(calibrated, axis=1), np.argsort(probabilities, axis=1))


def test_the_scores_are_the_multiclass_ones():
    labels = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])

    assert negative_log_likelihood(labels, probabilities) == pytest.approx(log_loss(labels, probabilities))
    one_hot = np.eye(3)[labels]
    assert brier_score(labels, probabilities) == pytest.approx(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))
    # top label: confidences 0.8 (right), 0.6 (right), 0.6 (right), 0.5 (wrong); 2 bins: [0, 0.5) empty,
    # [0.5, 1]: mean confidence 0.625, accuracy 0.75.
    assert expected_calibration_error(labels, probabilities, 2) == pytest.approx(abs(0.625 - 0.75))


def test_calibration_from_validation_lowers_the_nll_and_needs_every_class():
    labels, probabilities = overconfident()

    fitted = calibration_from_validation(labels, probabilities, CALIBRATION)

    assert fitted["validation_nll_after"] < fitted["validation_nll_before"]
    with pytest.raises(ValueError, match=r"only label\(s\) \[0, 1\].*all 3 classes \(0 to 2\)"):
        calibration_from_validation(labels[labels < 2], probabilities[labels < 2], CALIBRATION)
