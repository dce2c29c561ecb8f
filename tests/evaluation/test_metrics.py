import numpy as np
import pytest

from pediatric_pneumonia.evaluation.metrics import core_metrics, headline_metrics, roc_auc, threshold_metrics

# 4 normal, 6 pneumonia; at 0.5: TN 3, FP 1, FN 2, TP 4.
TARGETS = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
PROBABILITIES = np.array([0.1, 0.2, 0.3, 0.7, 0.3, 0.4, 0.6, 0.8, 0.9, 0.95])


def test_threshold_metrics_by_hand():
    metrics = threshold_metrics(TARGETS, PROBABILITIES, 0.5)

    assert metrics["confusion_matrix"] == [[3, 1], [2, 4]]
    assert metrics["accuracy"] == pytest.approx(0.7)
    assert metrics["precision"] == pytest.approx(4 / 5)
    assert metrics["recall"] == metrics["sensitivity"] == pytest.approx(4 / 6)
    assert metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    normal_f1 = 2 * 0.6 * 0.75 / (0.6 + 0.75)
    assert metrics["weighted_f1"] == pytest.approx(0.4 * normal_f1 + 0.6 * metrics["f1"])


def test_headline_metrics_agree_with_the_threshold_metrics():
    full = threshold_metrics(TARGETS, PROBABILITIES, 0.5)
    headline = headline_metrics(TARGETS, PROBABILITIES, 0.5)
    for name in ("accuracy", "precision", "f1", "sensitivity", "specificity"):
        assert headline[name] == pytest.approx(full[name]), name
    assert headline["roc_auc"] == pytest.approx(20.5 / 24)  # pairs ranked right, ties counted half


def test_rank_auc_counts_ties_half():
    # Pairs (positive, negative): 0.8>0.2, 0.8>0.5, 0.5=0.5 (half), 0.5>0.2: 3.5 of 4.
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.2, 0.5, 0.5, 0.8])) == pytest.approx(3.5 / 4)


def test_undefined_figures_are_left_out_not_invented():
    only_positives = core_metrics(np.array([1, 1, 1]), np.array([0.2, 0.7, 0.9]), 0.5)
    assert only_positives == {"accuracy": pytest.approx(2 / 3), "sensitivity": pytest.approx(2 / 3)}
    nobody_called = headline_metrics(np.array([0, 1]), np.array([0.1, 0.2]), 0.5)
    assert "precision" not in nobody_called and "f1" not in nobody_called
    assert nobody_called["roc_auc"] == 1.0
