"""The decision threshold (operating point), chosen on validation probabilities only.

An image is called positive when its probability is at or above the threshold.
"""

import math

import numpy as np
from sklearn.metrics import roc_curve

from ..parameters import Threshold
from .metrics import operating_point, require_both_classes


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


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray, threshold: Threshold) -> dict:
    """The threshold ``threshold.method`` picks on these (validation) probabilities, with the
    validation sensitivity and specificity it gives.

    ``youden`` maximises sensitivity + specificity - 1; ``fixed`` takes ``threshold.value``;
    ``sensitivity_target`` the highest threshold keeping sensitivity >= ``threshold.sensitivity_target``.

    Raises:
        ValueError: if the parameters are unusable or the labels hold one class only.
    """
    require_both_classes(labels, "choose a decision threshold")
    method = threshold.method
    extra = {}
    if method == "youden":
        chosen = youden_threshold(labels, probabilities)[0]
    elif method == "fixed":
        chosen = float(threshold.value)
    else:
        chosen = sensitivity_target_threshold(labels, probabilities, threshold.sensitivity_target)
        extra = {"sensitivity_target": float(threshold.sensitivity_target)}
    sensitivity, specificity = operating_point(labels, np.asarray(probabilities), chosen)
    return {
        "method": method,
        "threshold": chosen,
        "validation_sensitivity": sensitivity,
        "validation_specificity": specificity,
        **extra,
    }
