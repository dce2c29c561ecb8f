import keras
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.stress.nodes import (
    plot_stress,
    stratified_subset,
    stress_test,
    summarise_stress,
)
from tests.conftest import random_image_set
from tests.inference.conftest import predictor_around
from tests.inference.test_three_class_package import three_class_predictor
from tests.pipelines.reporting.tiny_model import flat_images

STRESS = {
    "seed": 1,
    "max_images": 30,
    "severities": {"brightness": [0.1, 0.3], "noise": [0.05, 0.2], "rotation": [5, 15]},
}
INTENSITY = {"method": "none", "clahe_clip_limit": 2.0, "clahe_tile_grid": 4, "percentiles": [1, 99]}


def brightness_reader() -> keras.Model:
    """A 'classifier' whose probability is the mean pixel: brightening raises every score."""
    inputs = keras.Input((16, 16, 1))
    mean_pixel = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, mean_pixel)


def labelled_by_brightness(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], count // 2).astype(np.uint8)
    exposure = rng.integers(-20, 20, (count, 1, 1))  # per image, so scores spread within a class
    images = np.where(labels[:, None, None] == 1, 150, 90) + exposure + rng.integers(-10, 10, (count, 16, 16))
    return {"images": images.astype(np.uint8), "labels": labels, "paths": np.arange(count).astype(str)}


def run_stress(stress: dict = STRESS) -> pd.DataFrame:
    predictor = predictor_around(brightness_reader(), INTENSITY, threshold=120 / 255, batch_size=16)
    return stress_test(predictor, labelled_by_brightness(40, 0), labelled_by_brightness(36, 1), check_parameters("stress", stress))


def test_stress_table_has_every_set_shift_and_severity_and_is_deterministic():
    table = run_stress()
    assert len(table) == 2 * 3 * 3
    assert set(table["set"]) == {"validation", "test"}
    pd.testing.assert_frame_equal(table, run_stress())
    clean = table[table["severity"] == 0]
    assert clean.groupby("set")["specificity"].nunique().eq(1).all()  # one unshifted score per set


def test_a_brightness_shift_costs_specificity_not_sensitivity():
    table = run_stress().set_index(["set", "shift", "severity"])
    specificity = [table.loc[("validation", "brightness", severity), "specificity"] for severity in (0, 1, 2)]
    sensitivity = [table.loc[("validation", "brightness", severity), "sensitivity"] for severity in (0, 1, 2)]
    assert specificity[0] > specificity[1] > specificity[2]
    assert min(sensitivity) == 1.0


def test_summary_gives_clean_mean_worst_and_every_condition():
    summary = summarise_stress(run_stress())
    assert summary["validation.specificity_worst"] <= summary["validation.specificity_mean"]
    assert summary["validation.specificity_worst_shift"] == "brightness severity 2"
    assert summary["test.noise.2.roc_auc"] == pytest.approx(summary["test.noise.2.roc_auc"])
    assert {"validation.roc_auc_clean", "test.sensitivity_mean", "test.rotation.1.specificity"} <= set(summary)
    assert plot_stress(run_stress()).axes


def test_stratified_subset_keeps_class_shares():
    image_set = random_image_set(30, 90, 8)
    subset = stratified_subset(image_set, 40, np.random.default_rng(0))
    assert np.bincount(subset["labels"]).tolist() == [10, 30]
    assert stratified_subset(image_set, None, np.random.default_rng(0)) is image_set


@pytest.mark.parametrize(
    ("severities", "message"),
    [
        ({"fog": [1, 2]}, "Unknown shift 'fog'"),
        ({"blur": [0.0, 1.0]}, "moving steadily away"),
        ({"contrast": [0.6, 0.8]}, "moving steadily away"),
        ({"jpeg": []}, "moving steadily away"),
    ],
)
def test_unknown_shifts_and_ungraded_severities_are_refused(severities, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("stress", {**STRESS, "severities": severities})


def test_a_three_class_model_is_stressed_on_its_accuracy_and_each_class_recall():
    levels = np.repeat([40, 128, 220], 6)  # NORMAL, BACTERIA and VIRUS to the three-class gray-level model
    image_set = {"images": flat_images(list(levels), size=8), "labels": np.repeat([0, 1, 2], 6).astype(np.uint8), "paths": levels.astype(str)}
    stress = check_parameters("stress", {"seed": 1, "max_images": 30, "severities": {"brightness": [0.3]}})

    table = stress_test(three_class_predictor(), image_set, image_set, stress)

    rows = table.set_index(["set", "severity"]).loc["validation"]
    recalls = ["recall_NORMAL", "recall_BACTERIA", "recall_VIRUS"]
    assert rows.loc[0, ["multiclass_accuracy", *recalls]].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert rows.loc[1, "recall_VIRUS"] == 1.0 and rows.loc[1, "recall_BACTERIA"] == 0.0  # brighter: called VIRUS
    summary = summarise_stress(table)
    assert summary["validation.recall_BACTERIA_worst"] == 0.0 and summary["validation.recall_VIRUS_mean"] == 1.0
    assert len(plot_stress(table).axes) == 2 * 7  # a row per set: three binary panels, accuracy, three recalls
