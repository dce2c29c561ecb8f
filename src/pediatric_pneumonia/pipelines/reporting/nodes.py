"""The test report: calibrated predictions, metrics at the validation threshold and at 0.5 with
patient-bootstrap intervals, per patient, without duplicates and per subtype, and plots."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ...evaluation.calibration import reliability_curve
from ...evaluation.duplicates import find_duplicates, pixel_hashes
from ...evaluation.metrics import threshold_metrics
from ...evaluation.report import (
    calibration_figures,
    duplicate_figures,
    interval_figures,
    patient_figures,
    subtype_figures,
)
from ...inference import Predictor

# The cut-off the paper reports at: a sigmoid output of one half (temperature scaling keeps it).
PAPER_THRESHOLD = 0.5




def _rows_of(image_split: pd.DataFrame, paths: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``image_split`` for ``paths``, in that order; a ValueError if any is missing."""
    rows = image_split.set_index("path").reindex(paths)[columns]
    missing = rows.index[rows.isna().any(axis=1)]
    if len(missing):
        raise ValueError(
            f"{len(missing)} images (e.g. {list(missing[:3])}) are not in image_split: the image sets and "
            "image_split come from different runs. Rerun the data_preparation pipeline."
        )
    return rows.reset_index()


def predict_test_set(predictor: Predictor, test_set: dict, image_split: pd.DataFrame) -> pd.DataFrame:
    """One row per test image, scored by the predictor package that is served: path, patient, true
    class, the model's ``raw_probability`` of the positive class and the calibrated ``probability``
    the report uses."""
    raw = predictor.raw_probabilities(test_set["images"])
    return pd.DataFrame(
        {
            "path": test_set["paths"],
            "patient_id": _rows_of(image_split, test_set["paths"], ["patient_id"])["patient_id"].to_numpy(),
            "label": np.asarray(predictor.classes)[test_set["labels"]],
            "target": test_set["labels"].astype(int),
            "raw_probability": raw,
            "probability": predictor.calibrate(raw),
        }
    )


def find_test_duplicates(test_set: dict, train_set: dict, image_split: pd.DataFrame) -> pd.DataFrame:
    """Test images byte-identical (same file hash) or pixel-identical (same stored array) to an
    earlier test image or to a training image, one row per pair (see ``find_duplicates``)."""

    def hashed(image_set: dict) -> pd.DataFrame:
        frame = _rows_of(image_split, image_set["paths"], ["content_hash"])
        return frame.assign(pixel_hash=pixel_hashes(image_set["images"]))

    return find_duplicates(hashed(test_set), hashed(train_set))


def compute_test_metrics(
    test_predictions: pd.DataFrame,
    decision_threshold: dict,
    calibration: dict,
    test_duplicates: pd.DataFrame,
    classes: list[str],
    reporting: dict,
) -> dict:
    """The test report, computed once from the (calibrated) test predictions.

    Top-level keys are at the threshold chosen on validation (``threshold``); the same metrics at
    the paper's 0.5 cut-off carry the suffix ``_at_0.5``. ``confusion_matrix`` is
    ``[[TN, FP], [FN, TP]]``: rows are true classes, columns predicted, in ``classes`` order.
    Beside them: the validation operating point, calibration before/after on validation and test,
    patient-bootstrap intervals (``_ci_low`` / ``_ci_high``), per-patient metrics (``patient_``),
    the metrics without duplicated test images (``_without_duplicates``) and sensitivity per
    pneumonia subtype.
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
        "validation_sensitivity": float(decision_threshold["validation_sensitivity"]),
        "validation_specificity": float(decision_threshold["validation_specificity"]),
        "n_images": int(len(targets)),
        "class_counts": {name: int((targets == index).sum()) for index, name in enumerate(classes)},
        **calibration_figures(calibration, test_predictions),
        **interval_figures(
            test_predictions,
            chosen,
            resamples=reporting["bootstrap_resamples"],
            seed=reporting["bootstrap_seed"],
            confidence=reporting["confidence_level"],
        ),
        **patient_figures(test_predictions, chosen, reporting["patient_aggregation"]),
        **duplicate_figures(test_predictions, test_duplicates, chosen),
        **subtype_figures(test_predictions, chosen),
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


def plot_reliability(calibration: dict, test_predictions: pd.DataFrame) -> Figure:
    """Reliability diagrams (observed share of pneumonia against mean predicted probability per
    bin), before and after calibration, on validation and on test."""
    targets, bins = test_predictions["target"].to_numpy(), calibration["bins"]
    panels = {
        "validation": (calibration["validation_reliability_before"], calibration["validation_reliability_after"]),
        "test": tuple(
            reliability_curve(targets, test_predictions[column].to_numpy(), bins)
            for column in ("raw_probability", "probability")
        ),
    }
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    for axes, (set_name, curves) in zip(figure.subplots(1, 2, sharey=True), panels.items()):
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        for stage, curve in zip(("before", "after"), curves):
            axes.plot(curve["mean_probability"], curve["observed_rate"], marker="o", label=f"{stage} calibration")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("mean predicted probability of pneumonia")
        axes.set_ylabel("observed share of pneumonia")
        axes.set_title(f"{set_name.capitalize()} ({calibration['method']}, T = {calibration['temperature']:.2f})")
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
