import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.evaluation.shortcuts import (
    SHORTCUT_PROPERTIES,
    image_properties,
    label_predictability,
    strata_boundaries,
    strata_metrics,
    strata_summary,
    stratum_of,
)
from pediatric_pneumonia.imaging.shifts import blur, markers


def textured_images(count: int, seed: int, size: int = 48) -> np.ndarray:
    """Sharp random texture (noise on a mid-grey body), one image per row."""
    rng = np.random.default_rng(seed)
    return rng.integers(60, 200, (count, size, size), dtype=np.uint8)


def blurred(images: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    return np.stack([blur(image, sigma, np.random.default_rng(0)) for image, sigma in zip(images, sigmas)])


def test_properties_are_one_row_per_image_with_every_property():
    table = image_properties(textured_images(5, 0), border_fraction=0.1)
    assert list(table.columns) == list(SHORTCUT_PROPERTIES)
    assert len(table) == 5 and np.isfinite(table.to_numpy()).all()


def test_blur_lowers_sharpness_and_markers_raise_the_marker_share():
    sharp = textured_images(4, 1)
    soft = blurred(sharp, np.full(4, 2.0))
    assert (image_properties(soft, 0.1)["sharpness"] < image_properties(sharp, 0.1)["sharpness"]).all()
    dark = np.full((4, 96, 96), 30, dtype=np.uint8)
    dark[:, 20:76, 20:76] = 160  # a body on dark air, the border band is air
    marked = np.stack([markers(image, 1, np.random.default_rng(seed)) for seed, image in enumerate(dark)])
    assert (image_properties(marked, 0.15)["marker_share"] > 0).all()
    assert (image_properties(dark, 0.15)["marker_share"] == 0).all()


def test_the_audit_finds_a_planted_blur_shortcut_and_not_a_random_one():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    images = textured_images(80, 2)
    planted = blurred(images, np.where(labels == 1, rng.uniform(1.0, 2.0, 80), rng.uniform(0.0, 0.6, 80)))
    random = blurred(images, rng.uniform(0.0, 2.0, 80))

    found = label_predictability(image_properties(planted, 0.1), labels, folds=5, seed=0)
    assert found["sharpness.roc_auc"] > 0.95
    assert found["sharpness.direction"] == "lower_in_positive"
    assert found["combined.roc_auc"] > 0.9
    absent = label_predictability(image_properties(random, 0.1), labels, folds=5, seed=0)
    assert absent["sharpness.roc_auc"] < 0.7
    assert absent["n_images"] == 80


def test_the_audit_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        label_predictability(pd.DataFrame({"sharpness": [1.0, 2.0]}), np.array([1, 1]), folds=2, seed=0)


def test_strata_are_training_quantiles_with_ties_merged():
    np.testing.assert_allclose(strata_boundaries(np.arange(1, 9), 4), [2.75, 4.5, 6.25])
    assert strata_boundaries(np.array([0, 0, 0, 0, 0, 0, 1, 2]), 4).tolist() == [0.0, 0.25]
    assert stratum_of(np.array([-5, 2.75, 3, 100]), np.array([2.75, 4.5, 6.25])).tolist() == [1, 1, 2, 4]


def test_strata_metrics_on_a_toy_model_that_calls_every_blurry_image_pneumonia():
    # Training quartiles of sharpness at 2.5 / 4.5 / 6.5; the model calls positive below 3.
    train = pd.DataFrame({"sharpness": np.arange(1.0, 9.0)})
    validation = pd.DataFrame({"sharpness": [1.0, 2.0, 4.0, 8.0, 1.5, 4.0, 5.0, 8.0]})
    targets = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted = validation["sharpness"].to_numpy() < 3
    table = strata_metrics(train, validation, targets, predicted, strata=4).set_index("stratum")
    assert table["n_negative"].tolist() == [2, 1, 0, 1]
    assert table["specificity"].tolist()[:2] == [0.0, 1.0] and np.isnan(table.loc[3, "specificity"])
    assert table["n_positive"].tolist() == [1, 1, 1, 1]
    assert table["sensitivity"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert table.loc[1, "low"] == -np.inf and table.loc[4, "high"] == np.inf

    summary = strata_summary(table.reset_index())
    assert summary["sharpness.specificity_spread"] == 1.0
    assert summary["sharpness.sensitivity_spread"] == 1.0
    assert summary["sharpness.specificity_slope"] > 0  # the sharper, the better the specificity
    assert summary["sharpness.sensitivity_slope"] < 0
