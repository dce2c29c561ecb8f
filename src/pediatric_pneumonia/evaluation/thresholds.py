"""The decision threshold (operating point), chosen on validation probabilities only.

An image is called positive when its probability is at or above the threshold.
"""

import math

import numpy as np
from sklearn.metrics import roc_curve

from ..parameters import Threshold
from .frames import pneumonia_probability, pneumonia_targets
from .metrics import argmax_accuracy, macro_roc_auc, operating_point, require_both_classes, roc_auc


def youden_threshold(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float, float]:
    """The cut-off maximising sensitivity + specificity - 1, with that sensitivity and specificity."""
    false_positive_rate, true_positive_rate, cut_offs = roc_curve(labels, probabilities)
    best = int(np.argmax(true_positive_rate - false_positive_rate))
    chosen = float(min(cut_offs[best], 1.0))  # roc_curve's first cut-off is +inf
    return chosen, float(true_positive_rate[best]), float(1 - false_positive_rate[best])


def sensitivity_target_threshold(labels: np.ndarray, probabilities: np.ndarray, target: float) -> float:
    """The highest threshold whose sensitivity on ``labels`` is at least ``target``.

    Sensitivity only drops as the threshold rises, so that threshold is the k-th highest
    positive probability, k = ceil(target x positives): any higher cut-off loses one of them.
    """
    positive_scores = np.sort(np.asarray(probabilities, dtype=np.float64)[labels == 1])[::-1]
    needed = math.ceil(round(target * len(positive_scores), 9))  # round: 0.28 x 25 is 7.000000000000001
    return float(positive_scores[max(needed, 1) - 1])


def _method_threshold(labels: np.ndarray, probabilities: np.ndarray, threshold: Threshold) -> float:
    """The cut-off ``threshold.method`` picks on one set of labelled probabilities."""
    if threshold.method == "youden":
        return youden_threshold(labels, probabilities)[0]
    if threshold.method == "fixed":
        return float(threshold.value)
    return sensitivity_target_threshold(labels, probabilities, threshold.sensitivity_target)


def bootstrap_thresholds(labels: np.ndarray, probabilities: np.ndarray, threshold: Threshold) -> np.ndarray:
    """The method's cut-off on each of ``threshold.bootstrap_resamples`` resamples of the images,
    drawn with replacement within each class (so every resample keeps the class counts), seeded by
    ``threshold.seed``."""
    rng = np.random.default_rng(threshold.seed)
    by_class = [np.flatnonzero(labels == value) for value in (0, 1)]
    cut_offs = np.empty(threshold.bootstrap_resamples)
    for index in range(threshold.bootstrap_resamples):
        drawn = np.concatenate([rng.choice(members, size=len(members)) for members in by_class])
        cut_offs[index] = _method_threshold(labels[drawn], probabilities[drawn], threshold)
    return cut_offs


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray, threshold: Threshold) -> dict:
    """The threshold ``threshold.method`` picks on these (validation) probabilities, with the
    validation sensitivity and specificity it gives.

    ``youden`` maximises sensitivity + specificity - 1; ``fixed`` takes ``threshold.value``;
    ``sensitivity_target`` the highest threshold keeping sensitivity >= ``threshold.sensitivity_target``.
    With ``threshold.bootstrap_resamples`` > 0 (not ``fixed``) the threshold is the median of the
    method's cut-offs over that many class-stratified resamples of the images, so that it does not
    hinge on the few images nearest the cut-off; the 5th-95th percentile of those cut-offs is
    reported as ``threshold_interval``.

    Raises:
        ValueError: if the parameters are unusable or the labels hold one class only.
    """
    require_both_classes(labels, "choose a decision threshold")
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=np.float64)
    method = threshold.method
    extra = {"sensitivity_target": float(threshold.sensitivity_target)} if method == "sensitivity_target" else {}
    if method != "fixed" and threshold.bootstrap_resamples:
        cut_offs = bootstrap_thresholds(labels, probabilities, threshold)
        chosen = float(np.median(cut_offs))
        extra |= {
            "bootstrap_resamples": threshold.bootstrap_resamples,
            "threshold_interval": [float(value) for value in np.percentile(cut_offs, [5, 95])],
        }
    else:
        chosen = _method_threshold(labels, probabilities, threshold)
    sensitivity, specificity = operating_point(labels, probabilities, chosen)
    return {
        "method": method,
        "threshold": chosen,
        "validation_sensitivity": sensitivity,
        "validation_specificity": specificity,
        **extra,
    }


def choose_decision(labels: np.ndarray, probabilities: np.ndarray, threshold: Threshold) -> dict:
    """The decision a model's package records, chosen on calibrated validation probabilities.

    Two classes: ``choose_threshold`` with the validation ROC-AUC. K classes (``probabilities``
    (N, K)): the label is the most probable class (``rule: argmax``), and the binary question is
    answered as for a two-class model: ``threshold`` (chosen by ``threshold.method``) on
    P(pneumonia) = 1 - P(first class), with its validation sensitivity, specificity and ROC-AUC;
    beside them the validation accuracy of the argmax and the macro one-vs-rest ROC-AUC.
    """
    labels = np.asarray(labels, dtype=int)
    n_classes = 2 if np.ndim(probabilities) == 1 else np.shape(probabilities)[1]
    require_both_classes(labels, "choose the decision", n_classes)
    targets, pneumonia = pneumonia_targets(labels, n_classes), pneumonia_probability(probabilities)
    decision = {**choose_threshold(targets, pneumonia, threshold), "validation_roc_auc": roc_auc(targets, pneumonia)}
    if n_classes == 2:
        return decision
    return {
        "rule": "argmax",
        **decision,
        "validation_accuracy": argmax_accuracy(labels, probabilities),
        "validation_macro_roc_auc": macro_roc_auc(labels, probabilities),
    }
