"""The test report's figures: confusion matrices, ROC curve, reliability diagrams and training
curves, each a matplotlib Figure (the catalog writes them)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from .calibration import reliability_curve
from .report import PAPER_THRESHOLD


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


def plot_reliability(calibration: dict, test_predictions: pd.DataFrame) -> Figure:
    """Reliability diagrams (observed share of pneumonia against mean predicted probability per
    bin), before and after calibration, on validation and on test."""
    panels = {
        "validation": (calibration["validation_reliability_before"], calibration["validation_reliability_after"]),
        "test": set_reliability(test_predictions, calibration["bins"]),
    }
    return reliability_figure(panels, f"{calibration['method']}, T = {calibration['temperature']:.2f}")


def set_reliability(predictions: pd.DataFrame, bins: int) -> tuple[dict, dict]:
    """The reliability curves of scored images before and after the calibration."""
    targets = predictions["target"].to_numpy()
    return tuple(reliability_curve(targets, predictions[column].to_numpy(), bins) for column in ("raw_probability", "probability"))


def reliability_figure(panels: dict[str, tuple[dict, dict]], calibration_name: str) -> Figure:
    """One reliability diagram per named set, its curves before and after calibration."""
    figure = Figure(figsize=(5 * len(panels), 4.5), layout="constrained")
    for axes, (set_name, curves) in zip(np.atleast_1d(figure.subplots(1, len(panels), sharey=True)), panels.items()):
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        for stage, curve in zip(("before", "after"), curves):
            axes.plot(curve["mean_probability"], curve["observed_rate"], marker="o", label=f"{stage} calibration")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("mean predicted probability of pneumonia")
        axes.set_ylabel("observed share of pneumonia")
        axes.set_title(f"{set_name.capitalize()} ({calibration_name})")
        axes.legend(loc="upper left")
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
