"""The test report and its sections, each a flat dict of named figures computed from the
predictions (columns ``path``, ``patient_id``, ``target``, ``raw_probability`` and the calibrated
``probability``). ``prediction_report`` is the part a strategy's test report and ``evaluate`` on a
new site's images share; the pipeline adds what only it knows (validation, duplicates of training)."""

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ..naming import SUBTYPES, subtype_from_path
from ..parameters import Reporting
from .bootstrap import group_bootstrap_intervals
from .calibration import calibration_scores
from .metrics import class_counts, core_metrics, headline_metrics, threshold_metrics
from .multiclass import binary_view, multiclass_figures
from .patients import aggregate_by_patient

# The report's second cut-off (its keys end in "_at_0.5"): the paper's, a sigmoid output of one
# half (temperature scaling keeps it), beside the validation-chosen one.
PAPER_THRESHOLD = 0.5


def interval_figures(
    predictions: pd.DataFrame, threshold: float, resamples: int, seed: int, confidence: float
) -> dict[str, float]:
    """``<metric>_ci_low`` / ``_ci_high`` of accuracy, sensitivity, specificity and ROC-AUC from
    ``resamples`` bootstrap resamples of patients, stratified by class so every resample holds both."""
    targets, probabilities = predictions["target"].to_numpy(), predictions["probability"].to_numpy()

    def statistic(rows: np.ndarray) -> dict[str, float]:
        return core_metrics(targets[rows], probabilities[rows], threshold)

    intervals = group_bootstrap_intervals(
        predictions["patient_id"].to_numpy(),
        statistic,
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        strata=targets,
    )
    return {
        f"{name}_ci_{end}": bound
        for name, (low, high) in intervals.items()
        for end, bound in (("low", low), ("high", high))
    }


# Figures of the positive class that need positives (sensitivity) or negatives (specificity): on
# a one-class set they are left out of the report and named under "undefined", never made up.
NEEDS_POSITIVES = ("sensitivity", "recall", "f1", "precision")
NEEDS_NEGATIVES = ("specificity",)


def prediction_report(predictions: pd.DataFrame, threshold: float, classes: list[str], reporting: Reporting, bins: int) -> dict:
    """The report of scored, labelled images at ``threshold`` and at 0.5: metrics (``_at_0.5``
    suffix for the second), ROC-AUC and PR-AUC, counts, NLL / ECE / Brier before and after the
    calibration (``test_ece_after``, ...), patient-bootstrap intervals, per-patient and per-subtype
    figures. On a set holding one class only, what cannot be computed is left out and listed,
    with the reason, under ``undefined``. For a model of more than two classes these are the
    figures of P(pneumonia) (``multiclass.binary_view``), and ``multiclass.multiclass_figures`` are
    added; ``class_counts`` counts every class."""
    if len(classes) > 2:
        binary, binary_classes = binary_view(predictions, classes)
        report = prediction_report(binary, threshold, binary_classes, reporting, bins)
        counts = class_counts(predictions["target"].to_numpy(), classes)
        return {**report, "class_counts": counts, **multiclass_figures(predictions, classes, reporting, bins)}
    targets, probabilities = predictions["target"].to_numpy(), predictions["probability"].to_numpy()
    has_positives, has_negatives = bool((targets == 1).any()), bool((targets == 0).any())
    report = {
        **threshold_metrics(targets, probabilities, threshold),
        **{
            f"{name}_at_{PAPER_THRESHOLD}": value
            for name, value in threshold_metrics(targets, probabilities, PAPER_THRESHOLD).items()
        },
    }
    undefined = []
    if not (has_positives and has_negatives):
        missing = "positive" if not has_positives else "negative"
        cut = NEEDS_POSITIVES if not has_positives else NEEDS_NEGATIVES
        undefined = [key for key in report if key.split("_at_")[0] in cut] + ["roc_auc", "pr_auc"]
        report = {key: value for key, value in report.items() if key not in undefined}
        report["undefined"] = {key: f"no {missing} ({classes[int(has_negatives)]}) images" for key in undefined}
    else:
        report["roc_auc"] = float(roc_auc_score(targets, probabilities))
        report["pr_auc"] = float(average_precision_score(targets, probabilities))
    return {
        **report,
        "threshold": float(threshold),
        "n_images": int(len(targets)),
        "class_counts": class_counts(targets, classes),
        **{
            f"test_{name}_{stage}": value
            for stage, column in (("before", "raw_probability"), ("after", "probability"))
            for name, value in calibration_scores(targets, predictions[column].to_numpy(), bins).items()
        },
        **interval_figures(
            predictions,
            threshold,
            resamples=reporting.bootstrap_resamples,
            seed=reporting.bootstrap_seed,
            confidence=reporting.confidence_level,
        ),
        **patient_figures(predictions, threshold, reporting.patient_aggregation),
        **subtype_figures(predictions, threshold),
    }


def calibration_figures(calibration: dict) -> dict:
    """The calibration used, and NLL / ECE / Brier before and after it on validation, as fitted
    (``validation_ece_before``, ...)."""
    return {
        "calibration_method": calibration["method"],
        "calibration_temperature": float(calibration["temperature"]),
        **{
            f"validation_{name}_{stage}": float(calibration[f"validation_{name}_{stage}"])
            for stage in ("before", "after")
            for name in ("nll", "ece", "brier")
        },
    }


def duplicate_figures(predictions: pd.DataFrame, test_duplicates: pd.DataFrame, threshold: float) -> dict:
    """How many test images repeat a training image or an earlier test image, and the headline
    metrics without them (``_without_duplicates``: the first copy of a test group stays)."""
    kept = predictions[~predictions["path"].isin(test_duplicates["test_path"])]
    repeated = test_duplicates.groupby("other_subset")["test_path"].nunique()
    kept_metrics = headline_metrics(kept["target"].to_numpy(), kept["probability"].to_numpy(), threshold)
    return {
        "n_test_duplicates_of_train": int(repeated.get("train", 0)),
        "n_test_duplicates_within_test": int(repeated.get("test", 0)),
        "n_images_without_duplicates": int(len(kept)),
        **{f"{name}_without_duplicates": value for name, value in kept_metrics.items()},
    }


def subtype_figures(predictions: pd.DataFrame, threshold: float) -> dict[str, float]:
    """``n_images_<subtype>`` and, where there are any, ``sensitivity_<subtype>`` of pneumonia subtypes."""
    positives = predictions[predictions["target"] == 1]
    subtypes = positives["path"].map(subtype_from_path)
    figures: dict[str, float] = {}
    for subtype in SUBTYPES:
        called = positives.loc[subtypes == subtype, "probability"] >= threshold
        figures[f"n_images_{subtype}"] = int(len(called))
        if len(called):
            figures[f"sensitivity_{subtype}"] = float(called.mean())
    return figures


def patient_figures(predictions: pd.DataFrame, threshold: float, aggregation: str) -> dict:
    """The headline metrics per patient (``patient_`` prefix), each patient's images aggregated
    by ``aggregation`` (mean or max) and cut at the same threshold, and ``n_patients``."""
    patients = aggregate_by_patient(predictions, aggregation)
    metrics = headline_metrics(patients["target"].to_numpy(), patients["probability"].to_numpy(), threshold)
    return {**{f"patient_{name}": value for name, value in metrics.items()}, "n_patients": int(len(patients))}
