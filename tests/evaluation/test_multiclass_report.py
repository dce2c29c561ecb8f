"""The three-class test report against hand-computed figures, and its binary figures equal to a
two-class report on P(pneumonia)."""

import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.evaluation.frames import with_probabilities
from pediatric_pneumonia.evaluation.report import prediction_report
from pediatric_pneumonia.parameters import check_parameters

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]
REPORTING = check_parameters(
    "reporting", {"bootstrap_resamples": 30, "bootstrap_seed": 0, "confidence_level": 0.9, "patient_aggregation": "mean"}
)
PROBABILITIES = np.array(
    [
        [0.9, 0.05, 0.05],  # NORMAL, right
        [0.6, 0.3, 0.1],  # NORMAL, right
        [0.3, 0.4, 0.3],  # NORMAL called BACTERIA
        [0.1, 0.8, 0.1],  # BACTERIA, right
        [0.2, 0.3, 0.5],  # BACTERIA called VIRUS
        [0.05, 0.15, 0.8],  # VIRUS, right
        [0.5, 0.1, 0.4],  # VIRUS called NORMAL
        [0.1, 0.2, 0.7],  # VIRUS, right
    ]
)
TARGETS = np.array([0, 0, 0, 1, 1, 2, 2, 2])


def predictions() -> pd.DataFrame:
    frame = pd.DataFrame({
        "path": [f"/t/{name}.jpeg" for name in ["IM-1-1", "IM-2-1", "IM-3-1", "person1_bacteria_1", "person2_bacteria_2",
                                                "person3_virus_3", "person4_virus_4", "person5_virus_5"]],
        "patient_id": ["IM-1", "IM-2", "IM-3", "person1_bacteria", "person2_bacteria", "person3_virus", "person4_virus", "person5_virus"],
        "target": TARGETS,
    })
    frame = with_probabilities(frame, "raw_probability", PROBABILITIES, CLASSES)
    return with_probabilities(frame, "probability", PROBABILITIES, CLASSES)


def test_the_three_class_figures_are_the_hand_computed_ones():
    report = prediction_report(predictions(), 0.5, CLASSES, REPORTING, bins=5)

    assert report["multiclass_accuracy"] == pytest.approx(5 / 8)
    assert report["multiclass_confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert report["recall_NORMAL"] == pytest.approx(2 / 3) and report["recall_BACTERIA"] == pytest.approx(1 / 2)
    assert report["precision_VIRUS"] == pytest.approx(2 / 3) and report["precision_BACTERIA"] == pytest.approx(1 / 2)
    f1 = [2 * (2 / 3) * (2 / 3) / (4 / 3), 0.5, 2 * (2 / 3) * (2 / 3) / (4 / 3)]
    assert report["multiclass_macro_f1"] == pytest.approx(np.mean(f1))
    assert report["multiclass_weighted_f1"] == pytest.approx(np.average(f1, weights=[3, 2, 3]))
    # bacteria vs virus on their 5 images, score P(VIRUS) / (P(BACTERIA) + P(VIRUS)):
    # bacteria 0.111, 0.625; virus 0.842, 0.8, 0.778 -> 6 of 6 pairs ordered right
    assert report["bacteria_vs_virus_roc_auc"] == pytest.approx(1.0)
    assert report["class_counts"] == {"NORMAL": 3, "BACTERIA": 2, "VIRUS": 3}
    assert report["test_multiclass_nll_after"] == pytest.approx(-np.mean(np.log(PROBABILITIES[np.arange(8), TARGETS])))
    assert report["multiclass_accuracy_ci_low"] <= 5 / 8 <= report["multiclass_accuracy_ci_high"]
    assert report["patient_multiclass_accuracy"] == pytest.approx(5 / 8)  # one image a patient


def test_the_binary_figures_are_those_of_p_pneumonia():
    frame = predictions()
    binary = frame[["path", "patient_id"]].assign(
        target=(TARGETS != 0).astype(int), raw_probability=1 - PROBABILITIES[:, 0], probability=1 - PROBABILITIES[:, 0]
    )

    report = prediction_report(frame, 0.5, CLASSES, REPORTING, bins=5)
    expected = prediction_report(binary, 0.5, ["NORMAL", "PNEUMONIA"], REPORTING, bins=5)

    assert {key: report[key] for key in expected if key != "class_counts"} == {key: value for key, value in expected.items() if key != "class_counts"}
    assert report["accuracy"] == pytest.approx(7 / 8) and report["roc_auc"] == pytest.approx(expected["roc_auc"])
