import numpy as np
import pytest

from pediatric_pneumonia.evaluation.metrics import operating_point
from pediatric_pneumonia.evaluation.thresholds import (
    choose_threshold,
    sensitivity_target_threshold,
    youden_threshold,
)
from pediatric_pneumonia.parameters import check_parameters

# 5 negatives, 5 positives; positives score 0.9, 0.8, 0.7, 0.6, 0.3.
LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.2, 0.35, 0.4, 0.65, 0.9, 0.8, 0.7, 0.6, 0.3])


def test_youden_threshold_separates_perfectly_separable_scores():
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold, sensitivity, specificity = youden_threshold(labels, np.array([0.1, 0.2, 0.35, 0.4, 0.8, 0.9]))
    assert 0.35 < threshold <= 0.4
    assert sensitivity == specificity == 1.0


@pytest.mark.parametrize("target, expected", [(0.8, 0.6), (0.6, 0.7), (1.0, 0.3), (0.2, 0.9), (0.81, 0.3)])
def test_sensitivity_target_picks_the_highest_threshold_meeting_the_target(target, expected):
    chosen = sensitivity_target_threshold(LABELS, SCORES, target)

    assert chosen == expected
    assert operating_point(LABELS, SCORES, chosen)[0] >= target
    assert operating_point(LABELS, SCORES, np.nextafter(chosen, 1))[0] < target  # any higher one misses it


def test_sensitivity_target_is_not_fooled_by_floating_point():
    # 0.28 x 25 is 7.000000000000001 in floating point: 7 of 25 positives meet the target exactly.
    scores = np.linspace(0.99, 0.75, 25)
    labels = np.ones(25, dtype=np.uint8)
    assert sensitivity_target_threshold(labels, scores, 0.28) == scores[6]


def test_chosen_threshold_states_method_and_validation_operating_point():
    chosen = choose_threshold(LABELS, SCORES, check_parameters("threshold", {"method": "sensitivity_target", "sensitivity_target": 0.8}))
    assert chosen == {
        "method": "sensitivity_target",
        "threshold": 0.6,
        "validation_sensitivity": 0.8,
        "validation_specificity": 0.8,  # 0.65 is the one negative at or above 0.6
        "sensitivity_target": 0.8,
    }
    fixed = choose_threshold(LABELS, SCORES, check_parameters("threshold", {"method": "fixed", "value": 0.5}))
    assert fixed == {"method": "fixed", "threshold": 0.5, "validation_sensitivity": 0.8, "validation_specificity": 0.8}
    youden = choose_threshold(LABELS, SCORES, check_parameters("threshold", {"method": "youden"}))
    assert youden["validation_sensitivity"] - (1 - youden["validation_specificity"]) == pytest.approx(0.6)


@pytest.mark.parametrize(
    "threshold",
    [
        {"method": "youden"},
        {"method": "fixed", "value": 0.5},
        {"method": "sensitivity_target", "sensitivity_target": 0.9},
    ],
)
def test_one_class_validation_raises_for_every_method(threshold):
    with pytest.raises(ValueError, match=r"choose a decision threshold.*only label\(s\) \[0\]"):
        choose_threshold(np.zeros(6, dtype=np.uint8), np.linspace(0.1, 0.6, 6), check_parameters("threshold", threshold))


@pytest.mark.parametrize(
    "threshold, message",
    [
        ({"method": "f1"}, r"Unknown threshold.method 'f1': use one of \('youden', 'fixed', 'sensitivity_target'\)"),
        ({"method": "sensitivity_target", "sensitivity_target": 0.0}, r"sensitivity_target must be in \(0, 1\]"),
        ({"method": "youden", "sensitivity_target": 1.5}, r"sensitivity_target must be in \(0, 1\]"),
        ({"method": "sensitivity_target"}, "needs threshold.sensitivity_target"),
        ({"method": "fixed", "value": 1.2}, r"threshold.value must be a probability in \[0, 1\]"),
    ],
)
def test_unusable_threshold_parameters_are_refused(threshold, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("threshold", threshold)


def test_a_sensitivity_target_of_one_is_allowed():
    check_parameters("threshold", {"method": "sensitivity_target", "sensitivity_target": 1.0, "value": 0.5})
