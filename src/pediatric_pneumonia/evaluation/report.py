"""The sections of the test report beyond the figures at one threshold, each a flat dict of
named figures computed from the test predictions (columns ``path``, ``patient_id``, ``target``,
``raw_probability`` and the calibrated ``probability``)."""

import numpy as np
import pandas as pd

from ..naming import SUBTYPES, subtype_from_path
from .bootstrap import group_bootstrap_intervals
from .calibration import calibration_scores
from .metrics import core_metrics, headline_metrics
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


def calibration_figures(calibration: dict, predictions: pd.DataFrame) -> dict:
    """The calibration used, and NLL / ECE / Brier before and after it on validation (as fitted)
    and on test (``validation_ece_before``, ``test_ece_after``, ...)."""
    targets = predictions["target"].to_numpy()
    figures = {
        "calibration_method": calibration["method"],
        "calibration_temperature": float(calibration["temperature"]),
    }
    for stage, column in (("before", "raw_probability"), ("after", "probability")):
        for name, value in calibration_scores(targets, predictions[column].to_numpy(), calibration["bins"]).items():
            figures[f"validation_{name}_{stage}"] = float(calibration[f"validation_{name}_{stage}"])
            figures[f"test_{name}_{stage}"] = value
    return figures


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
