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


def test_a_bootstrap_threshold_is_the_median_cut_off_over_class_stratified_resamples():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], [60, 140])
    scores = np.clip(np.where(labels == 1, rng.normal(0.75, 0.15, 200), rng.normal(0.3, 0.15, 200)), 0, 1)
    single = check_parameters("threshold", {"method": "youden"})
    smoothed = check_parameters("threshold", {"method": "youden", "bootstrap_resamples": 200, "seed": 3})

    chosen = choose_threshold(labels, scores, smoothed)

    # by hand: the Youden cut-off of each resample drawn within each class, then their median
    draw = np.random.default_rng(3)
    cut_offs = []
    for _ in range(200):
        drawn = np.concatenate([draw.choice(np.flatnonzero(labels == value), size=(labels == value).sum()) for value in (0, 1)])
        cut_offs.append(youden_threshold(labels[drawn], scores[drawn])[0])
    assert chosen["threshold"] == pytest.approx(np.median(cut_offs))
    assert chosen["threshold_interval"] == pytest.approx(list(np.percentile(cut_offs, [5, 95])))
    assert chosen["threshold_interval"][0] < chosen["threshold"] < chosen["threshold_interval"][1]
    assert chosen["bootstrap_resamples"] == 200
    assert choose_threshold(labels, scores, smoothed) == chosen  # seeded
    assert "threshold_interval" not in choose_threshold(labels, scores, single)


def test_a_bootstrap_threshold_stays_in_the_gap_of_separable_scores_and_a_fixed_one_is_kept():
    labels = np.repeat([0, 1], [20, 20])
    scores = np.r_[np.linspace(0.05, 0.35, 20), np.linspace(0.65, 0.95, 20)]

    chosen = choose_threshold(labels, scores, check_parameters("threshold", {"method": "youden", "bootstrap_resamples": 50}))
    fixed = choose_threshold(
        labels, scores, check_parameters("threshold", {"method": "fixed", "value": 0.4, "bootstrap_resamples": 50})
    )

    assert 0.35 < chosen["threshold"] <= 0.65
    assert (chosen["validation_sensitivity"], chosen["validation_specificity"]) == (1.0, 1.0)
    assert fixed["threshold"] == 0.4 and "threshold_interval" not in fixed
