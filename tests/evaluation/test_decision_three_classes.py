"""The decision of a three-class model: argmax, and the binary question answered by a threshold on
P(pneumonia) = 1 - P(NORMAL), chosen on validation exactly as for a two-class model."""

import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.evaluation.frames import probabilities_of, probability_columns, with_probabilities
from pediatric_pneumonia.evaluation.metrics import roc_auc
from pediatric_pneumonia.evaluation.thresholds import choose_decision, choose_threshold
from pediatric_pneumonia.parameters import check_parameters

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]
YOUDEN = check_parameters("threshold", {"method": "youden", "bootstrap_resamples": 0})


def validation() -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    probabilities = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.6, 0.3, 0.1],
            [0.3, 0.4, 0.3],  # a NORMAL image called BACTERIA
            [0.1, 0.8, 0.1],
            [0.2, 0.3, 0.5],  # a BACTERIA image called VIRUS
            [0.05, 0.15, 0.8],
            [0.5, 0.1, 0.4],  # a VIRUS image called NORMAL
            [0.1, 0.2, 0.7],
        ]
    )
    return labels, probabilities


def test_the_decision_is_the_argmax_with_the_binary_threshold_chosen_on_p_pneumonia():
    labels, probabilities = validation()
    pneumonia, targets = 1 - probabilities[:, 0], (labels != 0).astype(int)

    decision = choose_decision(labels, probabilities, YOUDEN)

    assert decision["rule"] == "argmax"
    assert decision["validation_accuracy"] == pytest.approx(5 / 8)
    assert decision["threshold"] == choose_threshold(targets, pneumonia, YOUDEN)["threshold"]
    assert decision["validation_roc_auc"] == pytest.approx(roc_auc(targets, pneumonia))
    macro = np.mean([roc_auc((labels == k).astype(int), probabilities[:, k]) for k in range(3)])
    assert decision["validation_macro_roc_auc"] == pytest.approx(macro)


def test_a_two_class_decision_is_unchanged():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([0.1, 0.6, 0.4, 0.9])

    decision = choose_decision(labels, probabilities, YOUDEN)

    assert "rule" not in decision
    assert decision == {**choose_threshold(labels, probabilities, YOUDEN), "validation_roc_auc": roc_auc(labels, probabilities)}


def test_a_prediction_table_has_one_column_per_class_named_after_it():
    _, probabilities = validation()

    frame = with_probabilities(pd.DataFrame({"path": list("abcdefgh")}), "raw_probability", probabilities, CLASSES)

    assert list(frame.columns) == ["path", *probability_columns("raw_probability", CLASSES)]
    assert probability_columns("raw_probability", CLASSES) == ["raw_probability_NORMAL", "raw_probability_BACTERIA", "raw_probability_VIRUS"]
    np.testing.assert_array_equal(probabilities_of(frame, "raw_probability", CLASSES), probabilities)
    with pytest.raises(ValueError, match=r"lacks \['raw_probability'\] for the classes \['NORMAL', 'PNEUMONIA'\]"):
        probabilities_of(frame, "raw_probability", ["NORMAL", "PNEUMONIA"])
