"""The test report: predictions, metrics at 0.5 and at the validation threshold, plots, MLflow metrics."""

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from ...classifier import predict_probabilities

# The cut-off the paper reports at: a sigmoid output of one half.
PAPER_THRESHOLD = 0.5


def predict_test_set(
    classifier: keras.Model, test_set: dict, classes: list[str], inference: dict, preprocessing: dict
) -> pd.DataFrame:
    """One row per test image: its path, true class and predicted probability of the positive class."""
    return pd.DataFrame(
        {
            "path": test_set["paths"],
            "label": np.asarray(classes)[test_set["labels"]],
            "target": test_set["labels"].astype(int),
            "probability": predict_probabilities(
                classifier, test_set["images"], preprocessing["intensity"], inference["batch_size"]
            ),
        }
    )


def threshold_metrics(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Metrics of the positive class (and weighted averages over both classes) at one threshold."""
    predictions = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(targets, predictions, labels=[0, 1])
    true_negatives, false_positives, false_negatives, true_positives = matrix.ravel()
    precision, recall, f1, _ = precision_recall_fscore_support(
        targets, predictions, labels=[1], average=None, zero_division=0
    )
    weighted = precision_recall_fscore_support(
        targets, predictions, labels=[0, 1], average="weighted", zero_division=0
    )
    negatives = true_negatives + false_positives
    return {
        "accuracy": float((predictions == targets).mean()),
        "precision": float(precision[0]),
        "recall": float(recall[0]),
        "f1": float(f1[0]),
        "sensitivity": float(recall[0]),
        "specificity": float(true_negatives / negatives) if negatives else 0.0,
        "weighted_precision": float(weighted[0]),
        "weighted_recall": float(weighted[1]),
        "weighted_f1": float(weighted[2]),
        "confusion_matrix": matrix.tolist(),
    }


def compute_test_metrics(
    test_predictions: pd.DataFrame, decision_threshold: dict, classes: list[str]
) -> dict:
    """The test report, computed once from the test predictions.

    Top-level keys are at the threshold chosen on validation (``threshold``); the same metrics at
    the paper's 0.5 cut-off carry the suffix ``_at_0.5``. ``confusion_matrix`` is
    ``[[TN, FP], [FN, TP]]``: rows are true classes, columns predicted, in ``classes`` order.
    """
    targets = test_predictions["target"].to_numpy()
    probabilities = test_predictions["probability"].to_numpy()
    chosen = decision_threshold["threshold"]
    return {
        **threshold_metrics(targets, probabilities, chosen),
        **{
            f"{name}_at_{PAPER_THRESHOLD}": value
            for name, value in threshold_metrics(targets, probabilities, PAPER_THRESHOLD).items()
        },
        "roc_auc": float(roc_auc_score(targets, probabilities)),
        "pr_auc": float(average_precision_score(targets, probabilities)),
        "threshold": float(chosen),
        "threshold_method": decision_threshold["method"],
        "n_images": int(len(targets)),
        "class_counts": {name: int((targets == index).sum()) for index, name in enumerate(classes)},
    }


def to_mlflow_metrics(metrics: dict) -> dict[str, dict[str, float]]:
    """The numeric scalars of ``metrics`` in kedro-mlflow's metrics format (step 0)."""
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def plot_confusion_matrices(test_metrics: dict, classes: list[str]) -> Figure:
    """Side-by-side confusion matrices at the validation threshold and at 0.5."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    panels = (
        (f"validation threshold {test_metrics['threshold']:.3f}", test_metrics["confusion_matrix"]),
        (f"threshold {PAPER_THRESHOLD}", test_metrics[f"confusion_matrix_at_{PAPER_THRESHOLD}"]),
    )
    for axes, (title, matrix) in zip(figure.subplots(1, 2), panels):
        matrix = np.asarray(matrix)
        axes.imshow(matrix, cmap="Blues")
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > matrix.max() / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=14)
        axes.set_xticks(range(len(classes)), classes)
        axes.set_yticks(range(len(classes)), classes)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(f"Test set, {title}")
    return figure


def plot_roc_curve(test_predictions: pd.DataFrame, test_metrics: dict) -> Figure:
    """Test ROC curve with the two operating points marked."""
    targets = test_predictions["target"].to_numpy()
    probabilities = test_predictions["probability"].to_numpy()
    false_positive_rate, true_positive_rate, _ = roc_curve(targets, probabilities)
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.subplots()
    axes.plot(false_positive_rate, true_positive_rate, label=f"ROC (AUC {test_metrics['roc_auc']:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    for suffix, marker, name in (
        ("", "o", f"validation threshold {test_metrics['threshold']:.3f}"),
        (f"_at_{PAPER_THRESHOLD}", "s", f"threshold {PAPER_THRESHOLD}"),
    ):
        axes.plot(
            1 - test_metrics[f"specificity{suffix}"],
            test_metrics[f"sensitivity{suffix}"],
            marker=marker,
            linestyle="none",
            markersize=9,
            label=name,
        )
    axes.set_xlabel("1 - specificity (false positive rate)")
    axes.set_ylabel("sensitivity (true positive rate)")
    axes.set_title("Test ROC curve")
    axes.legend(loc="lower right")
    return figure


def plot_training_curves(training_history: dict[str, list[float]]) -> Figure:
    """Loss and accuracy per epoch, training beside validation."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        epochs = range(1, len(training_history[metric]) + 1)
        axes.plot(epochs, training_history[metric], marker="o", label="train")
        axes.plot(epochs, training_history[f"val_{metric}"], marker="o", label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.set_title(f"Training {metric}")
        axes.legend()
    return figure
