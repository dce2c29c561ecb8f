import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pediatric_pneumonia.pipelines.reporting.nodes import (
    compute_test_metrics,
    plot_confusion_matrices,
    plot_roc_curve,
    plot_training_curves,
    threshold_metrics,
    to_mlflow_metrics,
)

CLASSES = ["NORMAL", "PNEUMONIA"]


def predictions() -> pd.DataFrame:
    # 4 normal, 6 pneumonia; at 0.5: TN 3, FP 1, FN 2, TP 4. At 0.25: TN 2, FP 2, FN 0, TP 6.
    return pd.DataFrame(
        {
            "target": [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            "probability": [0.1, 0.2, 0.3, 0.7, 0.3, 0.4, 0.6, 0.8, 0.9, 0.95],
        }
    )


def test_threshold_metrics_by_hand():
    frame = predictions()
    metrics = threshold_metrics(frame["target"].to_numpy(), frame["probability"].to_numpy(), 0.5)

    assert metrics["confusion_matrix"] == [[3, 1], [2, 4]]
    assert metrics["accuracy"] == pytest.approx(0.7)
    assert metrics["precision"] == pytest.approx(4 / 5)
    assert metrics["recall"] == metrics["sensitivity"] == pytest.approx(4 / 6)
    assert metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    normal_f1 = 2 * 0.6 * 0.75 / (0.6 + 0.75)
    assert metrics["weighted_f1"] == pytest.approx(0.4 * normal_f1 + 0.6 * metrics["f1"])


def test_test_metrics_report_both_thresholds_with_flat_keys():
    metrics = compute_test_metrics(predictions(), {"threshold": 0.25, "method": "youden"}, CLASSES)

    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "sensitivity", "specificity", "threshold"):
        assert isinstance(metrics[key], float), key
    assert metrics["threshold"] == 0.25
    assert metrics["confusion_matrix"] == [[2, 2], [0, 6]]
    assert metrics["confusion_matrix_at_0.5"] == [[3, 1], [2, 4]]
    assert metrics["sensitivity"] == 1.0
    assert metrics["n_images"] == 10
    assert metrics["class_counts"] == {"NORMAL": 4, "PNEUMONIA": 6}
    assert metrics["roc_auc"] == pytest.approx(20.5 / 24)  # pairs ranked right, ties counted half


def test_only_numeric_scalars_go_to_mlflow():
    metrics = compute_test_metrics(predictions(), {"threshold": 0.25, "method": "youden"}, CLASSES)
    tracked = to_mlflow_metrics(metrics)
    assert tracked["accuracy"] == {"value": metrics["accuracy"], "step": 0}
    assert "confusion_matrix" not in tracked and "threshold_method" not in tracked
    assert "accuracy_at_0.5" in tracked and "n_images" in tracked


def test_plots_are_figures():
    metrics = compute_test_metrics(predictions(), {"threshold": 0.25, "method": "youden"}, CLASSES)
    history = {"loss": [0.7, 0.5], "val_loss": [0.8, 0.6], "accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.7]}
    for figure in (
        plot_confusion_matrices(metrics, CLASSES),
        plot_roc_curve(predictions(), metrics),
        plot_training_curves(history),
    ):
        assert isinstance(figure, Figure)
        assert figure.axes
