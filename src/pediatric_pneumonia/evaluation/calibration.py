"""Calibration of the classifier's probabilities, fitted on validation only, and how to measure it.

Temperature scaling divides the model's logit by one number T fitted to minimise the validation
negative log-likelihood. It is monotone and leaves a logit of 0 at 0, so ROC-AUC and every
decision at the 0.5 cut-off are unchanged: only the probabilities (and a threshold chosen on
them) move.

Every function takes a two-class model's probabilities of the positive class, shape (N,), with
0/1 labels, or a K-class model's probabilities of every class, shape (N, K), with class indices.
For K classes the logits are the log-probabilities (a softmax is unchanged by a constant added to
every logit), so one temperature keeps each image's ranking of the classes and its argmax; the
reliability curve and ECE are the top-label ones (the confidence of the chosen class against
whether it was right), the Brier score sums over the classes.
"""

import logging

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, softmax

from ..parameters import Calibration
from .metrics import require_both_classes

logger = logging.getLogger(__name__)


# Probabilities are kept this far from 0 and 1, so a saturated sigmoid still has a finite logit.
PROBABILITY_FLOOR = 1e-7

# The temperature search stays within [1/100, 100]: on a validation set the model separates
# perfectly the likelihood keeps improving as T -> 0, and an unbounded search would follow it.
LOG_TEMPERATURE_BOUND = float(np.log(100.0))


def logits_of(probabilities: np.ndarray) -> np.ndarray:
    """The logit of each probability, clipped to [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR] first."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.log(clipped) - np.log1p(-clipped)


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """The log of (N, K) probabilities, clipped to at least PROBABILITY_FLOOR first: logits up to a
    constant per image."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, 1.0))


def apply_calibration(probabilities: np.ndarray, calibration: dict) -> np.ndarray:
    """Calibrated probabilities: the logit(s) divided by ``calibration["temperature"]`` (1 = unchanged)."""
    temperature = calibration["temperature"]
    if temperature == 1.0:
        return probabilities
    if np.ndim(probabilities) == 2:
        return softmax(log_probabilities(probabilities) / temperature, axis=1)
    return expit(logits_of(probabilities) / temperature)  # no overflow warning for confident logits


def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean cross-entropy of ``probabilities`` against ``labels`` (natural log): binary for (N,),
    categorical for (N, K)."""
    if np.ndim(probabilities) == 2:
        return float(-np.mean(log_probabilities(probabilities)[np.arange(len(labels)), np.asarray(labels, dtype=int)]))
    signs = 2.0 * np.asarray(labels, dtype=np.float64) - 1.0
    return float(np.mean(np.logaddexp(0.0, -signs * logits_of(probabilities))))


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared difference between the probability and the 0/1 label; for (N, K), summed over
    the classes against the one-hot label."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 2:
        one_hot = np.eye(probabilities.shape[1])[np.asarray(labels, dtype=int)]
        return float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))
    return float(np.mean((probabilities - labels) ** 2))


def top_label(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For (N, K) probabilities: whether each image's most probable class is its label (0/1), and
    that class's probability (the confidence); (N,) ones as they are."""
    if np.ndim(probabilities) != 2:
        return np.asarray(labels), np.asarray(probabilities)
    chosen = np.argmax(probabilities, axis=1)
    return (chosen == np.asarray(labels)).astype(int), np.asarray(probabilities)[np.arange(len(chosen)), chosen]


def _bin_of(probabilities: np.ndarray, bins: int) -> np.ndarray:
    """Index of the equal-width bin of [0, 1] each probability falls in (1.0 in the last bin)."""
    return np.minimum((np.asarray(probabilities, dtype=np.float64) * bins).astype(int), bins - 1)


def reliability_curve(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> dict[str, list]:
    """Per non-empty equal-width bin of the positive-class probability (the top-label confidence for
    (N, K)): its edges, image count, mean predicted probability and observed share of positives
    (of correct calls) (lists, so it can go in JSON)."""
    labels, probabilities = top_label(labels, probabilities)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    index = _bin_of(probabilities, bins)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    mean_probability = np.bincount(index, weights=probabilities, minlength=bins)[filled] / counts[filled]
    observed_rate = np.bincount(index, weights=labels, minlength=bins)[filled] / counts[filled]
    lower_edges = np.arange(bins)[filled] / bins
    return {
        "bin_low": lower_edges.tolist(),
        "bin_high": (lower_edges + 1 / bins).tolist(),
        "count": counts[filled].tolist(),
        "mean_probability": mean_probability.tolist(),
        "observed_rate": observed_rate.tolist(),
    }


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> float:
    """ECE of the positive-class probability (top-label for (N, K)): over ``bins`` equal-width bins
    of [0, 1], the image-weighted mean of |mean predicted probability - observed share of positives|."""
    curve = reliability_curve(labels, probabilities, bins)
    gaps = np.abs(np.asarray(curve["mean_probability"]) - np.asarray(curve["observed_rate"]))
    return float(np.sum(gaps * np.asarray(curve["count"])) / len(labels))


def calibration_scores(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> dict[str, float]:
    """NLL, ECE and Brier score of one set of probabilities."""
    return {
        "nll": negative_log_likelihood(labels, probabilities),
        "ece": expected_calibration_error(labels, probabilities, bins),
        "brier": brier_score(labels, probabilities),
    }


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` (bounded search on log T)."""
    if np.ndim(probabilities) == 2:
        logits = log_probabilities(probabilities)

        def nll(log_temperature: float) -> float:
            return negative_log_likelihood(labels, softmax(logits * np.exp(-log_temperature), axis=1))
    else:
        signs = 2.0 * np.asarray(labels, dtype=np.float64) - 1.0
        signed_logits = signs * logits_of(probabilities)

        def nll(log_temperature: float) -> float:
            return float(np.mean(np.logaddexp(0.0, -signed_logits * np.exp(-log_temperature))))

    result = minimize_scalar(
        nll, bounds=(-LOG_TEMPERATURE_BOUND, LOG_TEMPERATURE_BOUND), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.exp(result.x))


def temperature_at_bound(temperature: float) -> bool:
    """Whether a fitted temperature sits at the edge of the search (1/100 or 100): the likelihood
    kept improving there, so it is not an estimate (classes separated, or no signal at all)."""
    return abs(abs(float(np.log(temperature))) - LOG_TEMPERATURE_BOUND) < 0.01


def calibration_from_validation(
    labels: np.ndarray, probabilities: np.ndarray, calibration: Calibration, temperature: float | None = None
) -> dict:
    """Fit ``calibration.method`` on validation and describe it: method, temperature, bins, the
    validation NLL / ECE / Brier before and after, and both reliability curves. A given
    ``temperature`` is described on these labels instead of a fitted one.

    Raises:
        ValueError: if the parameters are unusable or validation holds one class only.
    """
    require_both_classes(labels, "fit the probability calibration", 2 if np.ndim(probabilities) == 1 else np.shape(probabilities)[1])
    method, bins = calibration.method, calibration.bins
    if temperature is None:
        temperature = fit_temperature(labels, probabilities) if method == "temperature" else 1.0
    calibrated = apply_calibration(probabilities, {"temperature": temperature})
    before = calibration_scores(labels, probabilities, bins)
    after = calibration_scores(labels, calibrated, bins)
    logger.info(
        "Calibration '%s': temperature %.3f; validation NLL %.4f -> %.4f, ECE %.4f -> %.4f (%d images).",
        method,
        temperature,
        before["nll"],
        after["nll"],
        before["ece"],
        after["ece"],
        len(labels),
    )
    return {
        "method": method,
        "temperature": temperature,
        "bins": bins,
        "n_validation_images": int(len(labels)),
        **{f"validation_{name}_before": value for name, value in before.items()},
        **{f"validation_{name}_after": value for name, value in after.items()},
        "validation_reliability_before": reliability_curve(labels, probabilities, bins),
        "validation_reliability_after": reliability_curve(labels, calibrated, bins),
    }
