import numpy as np
import pytest

from pediatric_pneumonia.evaluation.bootstrap import group_bootstrap_intervals


def test_a_patient_with_many_images_moves_as_a_block():
    # Patient "a" has 5 images, the 10 others one each.
    groups = np.array(["a"] * 5 + [f"p{index}" for index in range(10)])
    seen = []

    def statistic(rows: np.ndarray) -> dict[str, float]:
        seen.append(rows)
        return {"rows": float(len(rows))}

    group_bootstrap_intervals(groups, statistic, resamples=300, seed=0)

    copies_of_a = [int(np.isin(rows, np.arange(5)).sum()) for rows in seen]
    assert all(count % 5 == 0 for count in copies_of_a)  # all five images of "a" or none, per draw
    assert {0, 5, 10} <= set(copies_of_a)  # and "a" is drawn 0, 1 or 2 times across resamples
    for rows, count in zip(seen, copies_of_a):
        assert len(rows) == count + (11 - count // 5)  # 11 patients drawn, whatever their sizes


def interval_width(groups: np.ndarray, correct: np.ndarray) -> float:
    low, high = group_bootstrap_intervals(
        groups, lambda rows: {"accuracy": float(correct[rows].mean())}, resamples=1000, seed=1
    )["accuracy"]
    return high - low


def test_intervals_widen_when_images_repeat_within_patients():
    # 40 patients, each with 5 images the model gets all right or all wrong, against the same
    # 200 outcomes treated as 200 independent patients.
    correct_per_patient = np.random.default_rng(3).random(40) < 0.8
    correct = np.repeat(correct_per_patient, 5).astype(float)

    clustered = interval_width(np.repeat(np.arange(40), 5), correct)
    independent = interval_width(np.arange(200), correct)

    assert clustered > 1.8 * independent  # about sqrt(5) = 2.2 times wider


def test_strata_keep_every_class_in_every_resample():
    # 2 negative patients among 20: an unstratified resample often draws neither.
    labels = np.array([0, 0] + [1] * 18)
    groups = np.arange(20)
    negatives_drawn = []

    def statistic(rows: np.ndarray) -> dict[str, float]:
        negatives_drawn.append(int((labels[rows] == 0).sum()))
        return {"share": float(labels[rows].mean())}

    group_bootstrap_intervals(groups, statistic, resamples=200, seed=0, strata=labels)
    assert all(count == 2 for count in negatives_drawn)  # two negative draws (with replacement) each time

    negatives_drawn.clear()
    group_bootstrap_intervals(groups, statistic, resamples=200, seed=0)
    assert 0 in negatives_drawn


def test_same_seed_same_interval_and_interval_brackets_the_estimate():
    rng = np.random.default_rng(5)
    values, groups = rng.normal(10, 2, 300), rng.integers(0, 60, 300)

    def mean(rows: np.ndarray) -> dict[str, float]:
        return {"mean": float(values[rows].mean())}

    first = group_bootstrap_intervals(groups, mean, resamples=500, seed=7)
    assert first == group_bootstrap_intervals(groups, mean, resamples=500, seed=7)
    low, high = first["mean"]
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * 2 / np.sqrt(300), rel=0.5)
