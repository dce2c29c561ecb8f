"""The test report's figures: confusion matrices, ROC curve, reliability diagrams and training
curves, each a matplotlib Figure (the catalog writes them)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from .calibration import reliability_curve
from .frames import probabilities_of
from .multiclass import binary_classes, binary_view
from .report import PAPER_THRESHOLD


def plot_confusion_matrices(test_metrics: dict, classes: list[str]) -> Figure:
    """Side-by-side confusion matrices at the validation threshold and at 0.5 (of P(pneumonia) for
    a K-class model), and a K-class model's own K x K matrix of its argmax."""
    binary = binary_classes(classes)
    panels = [
        (f"validation threshold {test_metrics['threshold']:.3f}", test_metrics["confusion_matrix"], binary),
        (f"threshold {PAPER_THRESHOLD}", test_metrics[f"confusion_matrix_at_{PAPER_THRESHOLD}"], binary),
    ]
    if len(classes) > 2:
        panels.append(("most probable class", test_metrics["multiclass_confusion_matrix"], classes))
    figure = Figure(figsize=(5 * len(panels), 4.5), layout="constrained")
    for axes, (title, matrix, names) in zip(figure.subplots(1, len(panels)), panels):
        matrix = np.asarray(matrix)
        axes.imshow(matrix, cmap="Blues")
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > matrix.max() / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color, fontsize=14)
        axes.set_xticks(range(len(names)), names)
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(f"Test set, {title}")
    return figure


def plot_roc_curve(test_predictions: pd.DataFrame, test_metrics: dict, classes: list[str]) -> Figure:
    """Test ROC curve (of P(pneumonia), for a K-class model) with the two operating points marked."""
    binary, _ = binary_view(test_predictions, classes)
    targets = binary["target"].to_numpy()
    probabilities = binary["probability"].to_numpy()
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


def plot_reliability(calibration: dict, test_predictions: pd.DataFrame, classes: list[str]) -> Figure:
    """Reliability diagrams (observed share of pneumonia against mean predicted probability per
    bin; for a K-class model, of right calls against the chosen class's probability), before and
    after calibration, on validation and on test."""
    panels = {
        "validation": (calibration["validation_reliability_before"], calibration["validation_reliability_after"]),
        "test": set_reliability(test_predictions, classes, calibration["bins"]),
    }
    return reliability_figure(panels, f"{calibration['method']}, T = {calibration['temperature']:.2f}", len(classes) > 2)


def set_reliability(predictions: pd.DataFrame, classes: list[str], bins: int) -> tuple[dict, dict]:
    """The reliability curves of scored images before and after the calibration (top-label for K classes)."""
    targets = predictions["target"].to_numpy()
    return tuple(reliability_curve(targets, probabilities_of(predictions, prefix, classes), bins) for prefix in ("raw_probability", "probability"))


def reliability_figure(panels: dict[str, tuple[dict, dict]], calibration_name: str, top_label: bool = False) -> Figure:
    """One reliability diagram per named set, its curves before and after calibration (of the
    chosen class's probability, ``top_label``, for a K-class model)."""
    figure = Figure(figsize=(5 * len(panels), 4.5), layout="constrained")
    for axes, (set_name, curves) in zip(np.atleast_1d(figure.subplots(1, len(panels), sharey=True)), panels.items()):
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        for stage, curve in zip(("before", "after"), curves):
            axes.plot(curve["mean_probability"], curve["observed_rate"], marker="o", label=f"{stage} calibration")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("mean probability of the chosen class" if top_label else "mean predicted probability of pneumonia")
        axes.set_ylabel("observed share of right calls" if top_label else "observed share of pneumonia")
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
