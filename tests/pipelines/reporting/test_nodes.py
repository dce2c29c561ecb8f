import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pediatric_pneumonia.evaluation.calibration import apply_calibration, brier_score
from pediatric_pneumonia.evaluation.plots import (
    plot_confusion_matrices,
    plot_reliability,
    plot_roc_curve,
    plot_training_curves,
)
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.reporting.nodes import (
    compute_test_metrics,
    find_test_duplicates,
    predict_test_set,
)
from pediatric_pneumonia.tracking import to_mlflow_metrics
from tests.inference.conftest import predictor_around

from .tiny_model import INTENSITY, expected_probability, flat_images, mean_gray_model

CLASSES = ["NORMAL", "PNEUMONIA"]
REPORTING = {"bootstrap_resamples": 200, "bootstrap_seed": 0, "confidence_level": 0.95, "patient_aggregation": "mean"}
NO_DUPLICATES = pd.DataFrame(columns=["test_path", "other_path", "other_subset", "identical"])
CALIBRATION = {
    "method": "temperature",
    "temperature": 2.0,
    "bins": 5,
    **{f"validation_{name}_{stage}": 0.1 for name in ("nll", "ece", "brier") for stage in ("before", "after")},
    "validation_reliability_before": {"mean_probability": [0.2, 0.8], "observed_rate": [0.3, 0.7]},
    "validation_reliability_after": {"mean_probability": [0.25, 0.75], "observed_rate": [0.3, 0.7]},
}


def threshold_at(value: float, method: str = "youden") -> dict:
    return {"threshold": value, "method": method, "validation_sensitivity": 0.9, "validation_specificity": 0.7}


def predictions() -> pd.DataFrame:
    # 4 normal patients; pneumonia: person1 (bacteria) has two images, person2/3 virus, person4/5 bacteria.
    # At 0.5: TN 3, FP 1, FN 1, TP 5. At 0.25: TN 2, FP 2, FN 0, TP 6.
    paths = [f"/test/NORMAL/IM-000{index}-0001.jpeg" for index in range(1, 5)] + [
        "/test/PNEUMONIA/person1_bacteria_1.jpeg",
        "/test/PNEUMONIA/person1_bacteria_2.jpeg",
        "/test/PNEUMONIA/person2_virus_3.jpeg",
        "/test/PNEUMONIA/person3_virus_4.jpeg",
        "/test/PNEUMONIA/person4_bacteria_5.jpeg",
        "/test/PNEUMONIA/person5_bacteria_6.jpeg",
    ]
    probabilities = np.array([0.1, 0.2, 0.3, 0.7, 0.3, 0.6, 0.6, 0.8, 0.9, 0.95])
    return pd.DataFrame(
        {
            "path": paths,
            "patient_id": ["IM-0001", "IM-0002", "IM-0003", "IM-0004", "person1_bacteria", "person1_bacteria"]
            + ["person2_virus", "person3_virus", "person4_bacteria", "person5_bacteria"],
            "target": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            "raw_probability": apply_calibration(probabilities, {"temperature": 0.5}),  # sharper than calibrated
            "probability": probabilities,
        }
    )


def metrics_of(threshold: float = 0.25, duplicates: pd.DataFrame = NO_DUPLICATES, **reporting) -> dict:
    return compute_test_metrics(
        predictions(), threshold_at(threshold), CALIBRATION, duplicates, CLASSES, check_parameters("reporting", {**REPORTING, **reporting})
    )


def test_predictions_keep_the_raw_and_the_calibrated_probability_and_the_patient():
    levels = [30, 128, 220]
    test_set = {
        "images": flat_images(levels),
        "labels": np.array([0, 1, 1], dtype=np.uint8),
        "paths": np.array(["n1.jpeg", "p1.jpeg", "p2.jpeg"]),
    }
    image_split = pd.DataFrame({"path": ["p2.jpeg", "n1.jpeg", "p1.jpeg"], "patient_id": ["B", "A", "B"]})

    frame = predict_test_set(predictor_around(mean_gray_model(), INTENSITY, CALIBRATION, batch_size=2), test_set, image_split)

    assert frame["patient_id"].tolist() == ["A", "B", "B"]  # joined by path, not by row order
    assert frame["label"].tolist() == ["NORMAL", "PNEUMONIA", "PNEUMONIA"]
    assert frame["raw_probability"].to_numpy() == pytest.approx(expected_probability(levels), abs=1e-6)
    softened = 1 / (1 + np.exp(-(8 * np.array(levels) / 255 - 4) / 2.0))
    assert frame["probability"].to_numpy() == pytest.approx(softened, abs=1e-6)


def test_an_image_missing_from_image_split_stops_the_report():
    test_set = {"images": flat_images([10]), "labels": np.array([0], dtype=np.uint8), "paths": np.array(["x.jpeg"])}
    with pytest.raises(ValueError, match="not in image_split.*Rerun the data_preparation"):
        predict_test_set(
            predictor_around(mean_gray_model(), INTENSITY, CALIBRATION),
            test_set,
            pd.DataFrame({"path": ["y.jpeg"], "patient_id": ["Y"]}),
        )


def test_duplicates_of_training_and_within_test_are_found_by_bytes_and_by_pixels():
    test_set = {"images": flat_images([1, 2, 2, 3]), "paths": np.array(["t0", "t1", "t2", "t3"])}
    train_set = {"images": flat_images([1, 9]), "paths": np.array(["r0", "r1"])}
    # t2 decodes like t1 but is another file; t0's decoded pixels equal r0's; t3's file is r1's file.
    image_split = pd.DataFrame(
        {"path": ["t0", "t1", "t2", "t3", "r0", "r1"], "content_hash": ["a", "b", "c", "d", "e", "d"]}
    )

    found = find_test_duplicates(test_set, train_set, image_split)

    assert set(map(tuple, found.to_numpy())) == {
        ("t0", "r0", "train", "pixels"),
        ("t3", "r1", "train", "bytes"),
        ("t2", "t1", "test", "pixels"),
    }


def test_test_metrics_keep_the_flat_keys_at_both_thresholds():
    metrics = metrics_of(0.25)

    for key in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "sensitivity",
        "specificity",
        "threshold",
    ):
        assert isinstance(metrics[key], float), key
    assert metrics["threshold"] == 0.25
    assert metrics["confusion_matrix"] == [[2, 2], [0, 6]]
    assert metrics["confusion_matrix_at_0.5"] == [[3, 1], [1, 5]]
    assert metrics["sensitivity"] == 1.0
    assert metrics["n_images"] == 10
    assert metrics["class_counts"] == {"NORMAL": 4, "PNEUMONIA": 6}
    assert metrics["roc_auc"] == pytest.approx(20.5 / 24)  # pairs ranked right, ties counted half


def test_test_metrics_state_the_validation_operating_point_and_calibration():
    metrics = metrics_of(0.5)

    assert metrics["threshold_method"] == "youden"
    assert (metrics["validation_sensitivity"], metrics["validation_specificity"]) == (0.9, 0.7)
    assert metrics["calibration_method"] == "temperature" and metrics["calibration_temperature"] == 2.0
    frame = predictions()
    assert metrics["test_brier_before"] == pytest.approx(brier_score(frame["target"], frame["raw_probability"]))
    assert metrics["test_brier_after"] == pytest.approx(brier_score(frame["target"], frame["probability"]))
    assert metrics["test_brier_before"] != pytest.approx(metrics["test_brier_after"])
    for name in ("nll", "ece", "brier"):
        assert metrics[f"validation_{name}_before"] == metrics[f"validation_{name}_after"] == 0.1
        assert 0 <= metrics[f"test_{name}_after"]


def test_confidence_intervals_bracket_the_figures():
    metrics = metrics_of(0.5)
    for name in ("accuracy", "roc_auc", "sensitivity", "specificity"):
        low, high = metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"]
        assert 0 <= low <= metrics[name] <= high <= 1, name
        assert low < high, name  # ten images leave room for doubt
    assert metrics_of(0.5) == metrics  # seeded


def test_patient_metrics_aggregate_each_patients_images():
    # person1's images score 0.3 and 0.6: mean 0.45 misses pneumonia at 0.5, max 0.6 finds it.
    by_mean, by_max = metrics_of(0.5), metrics_of(0.5, patient_aggregation="max")

    assert by_mean["n_patients"] == by_max["n_patients"] == 9
    assert by_mean["patient_sensitivity"] == pytest.approx(4 / 5)
    assert by_max["patient_sensitivity"] == 1.0
    assert by_mean["patient_specificity"] == by_max["patient_specificity"] == pytest.approx(3 / 4)
    assert by_mean["sensitivity"] == pytest.approx(5 / 6)  # per image, for comparison


def test_metrics_without_duplicates_leave_the_repeated_images_out():
    # The one false positive at 0.5 (IM-0004, 0.7) is a copy of a training image.
    duplicates = pd.DataFrame(
        {
            "test_path": ["/test/NORMAL/IM-0004-0001.jpeg"],
            "other_path": ["/train/x.jpeg"],
            "other_subset": ["train"],
            "identical": ["bytes"],
        }
    )
    metrics = metrics_of(0.5, duplicates)

    assert metrics["n_test_duplicates_of_train"] == 1 and metrics["n_test_duplicates_within_test"] == 0
    assert metrics["n_images_without_duplicates"] == 9
    assert metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["specificity_without_duplicates"] == 1.0
    assert metrics_of(0.5)["specificity_without_duplicates"] == pytest.approx(3 / 4)


def test_sensitivity_by_pneumonia_subtype():
    metrics = metrics_of(0.5)
    # bacteria: 0.3 (missed), 0.6, 0.9, 0.95; virus: 0.6, 0.8.
    assert (metrics["n_images_bacteria"], metrics["n_images_virus"]) == (4, 2)
    assert metrics["sensitivity_bacteria"] == pytest.approx(3 / 4)
    assert metrics["sensitivity_virus"] == 1.0


def test_a_subtype_without_images_gets_a_count_and_no_made_up_sensitivity():
    frame = predictions()
    frame["path"] = frame["path"].str.replace("virus", "bacteria")
    metrics = compute_test_metrics(frame, threshold_at(0.5), CALIBRATION, NO_DUPLICATES, CLASSES, check_parameters("reporting", REPORTING))
    assert metrics["n_images_virus"] == 0 and "sensitivity_virus" not in metrics


def test_every_numeric_figure_goes_to_mlflow_and_nothing_else():
    metrics = metrics_of(0.25)
    tracked = to_mlflow_metrics(metrics)
    assert tracked["accuracy"] == {"value": metrics["accuracy"], "step": 0}
    for key in (
        "accuracy_ci_low",
        "patient_roc_auc",
        "accuracy_without_duplicates",
        "sensitivity_bacteria",
        "test_ece_after",
        "validation_specificity",
        "calibration_temperature",
        "accuracy_at_0.5",
        "n_images",
    ):
        assert key in tracked, key
    for key in ("confusion_matrix", "threshold_method", "calibration_method", "class_counts"):
        assert key not in tracked, key


@pytest.mark.parametrize(
    "reporting, message",
    [
        ({"patient_aggregation": "median"}, "Unknown reporting.patient_aggregation 'median'"),
        ({"bootstrap_resamples": 0}, "reporting.bootstrap_resamples must be a positive integer"),
        ({"confidence_level": 95}, r"reporting.confidence_level must be in \(0, 1\)"),
    ],
)
def test_unusable_reporting_parameters_are_refused(reporting, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("reporting", {**REPORTING, **reporting})


def test_plots_are_figures():
    metrics = metrics_of(0.25)
    history = {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6], "accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.7]}
    for figure in (
        plot_confusion_matrices(metrics, CLASSES),
        plot_roc_curve(predictions(), metrics, CLASSES),
        plot_training_curves(history),
    ):
        assert isinstance(figure, Figure)
        assert figure.axes


def test_reliability_plot_shows_before_and_after_on_validation_and_test():
    figure = plot_reliability(CALIBRATION, predictions(), CLASSES)
    assert [axes.get_title().split(" ")[0] for axes in figure.axes] == ["Validation", "Test"]
    for axes in figure.axes:
        assert [line.get_label() for line in axes.get_lines()] == [
            "perfect calibration",
            "before calibration",
            "after calibration",
        ]
