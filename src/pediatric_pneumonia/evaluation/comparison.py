"""Paired tests of two models on the same test images, and Holm's correction over several such tests."""

from collections.abc import Callable

import numpy as np
from scipy.stats import binomtest

from .bootstrap import group_bootstrap_intervals
from .metrics import macro_roc_auc, roc_auc


def mcnemar_exact(reference_correct: np.ndarray, other_correct: np.ndarray) -> dict:
    """Exact McNemar test of paired correctness (the same images, in the same order).

    Only the discordant images count: ``b`` where the reference is right and the other model
    wrong, ``c`` the reverse. Under no difference each discordant image is a fair coin, so the
    two-sided p-value is the exact binomial test of ``c`` successes in ``b + c`` at 0.5 (1.0
    when there is no discordant image). The test treats images as independent pairs.

    Returns:
        ``{"b": int, "c": int, "p_value": float}``.
    """
    reference_correct = np.asarray(reference_correct, dtype=bool)
    other_correct = np.asarray(other_correct, dtype=bool)
    if reference_correct.shape != other_correct.shape:
        raise ValueError(
            f"McNemar needs paired predictions: {reference_correct.shape} reference and {other_correct.shape} "
            "other outcomes. Score both models on the same images, in the same order."
        )
    b = int((reference_correct & ~other_correct).sum())
    c = int((~reference_correct & other_correct).sum())
    p_value = 1.0 if b + c == 0 else float(binomtest(c, b + c, p=0.5, alternative="two-sided").pvalue)
    return {"b": b, "c": c, "p_value": p_value}


def mean_roc_auc(targets: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of one score vector, or the mean ROC-AUC of the columns (one per seed) of a matrix."""
    scores = np.asarray(scores, dtype=np.float64)
    columns = scores.reshape(len(scores), -1)
    return float(np.mean([roc_auc(targets, columns[:, column]) for column in range(columns.shape[1])]))


def mean_macro_roc_auc(targets: np.ndarray, probabilities: np.ndarray) -> float:
    """Macro one-vs-rest ROC-AUC of (N, K) class probabilities, or its mean over the seeds of (N, seeds, K)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    seeds = probabilities.reshape(len(probabilities), -1, probabilities.shape[-1])
    return float(np.mean([macro_roc_auc(targets, seeds[:, seed]) for seed in range(seeds.shape[1])]))


def paired_bootstrap_auc_difference(
    targets: np.ndarray,
    reference_scores: np.ndarray,
    other_scores: np.ndarray,
    patient_ids: np.ndarray,
    resamples: int,
    seed: int,
    confidence_level: float,
    auc: Callable[[np.ndarray, np.ndarray], float] = mean_roc_auc,
) -> dict:
    """ROC-AUC of ``other_scores`` minus that of ``reference_scores``, with a paired patient bootstrap.

    Both models are scored on the same resample of whole patients (drawn within each class, as
    ``group_bootstrap_intervals`` does), so what the test set shares between them cancels out.
    A score matrix (images x seeds) stands for several models: its ROC-AUC is the mean over columns.
    ``auc`` scores one side: ``mean_roc_auc`` of binary targets, or ``mean_macro_roc_auc`` of class
    indices and class probabilities ((N, K) or (N, seeds, K)).

    Returns:
        ``difference``, its percentile interval ``ci_low``/``ci_high`` and the two-sided bootstrap
        ``p_value`` = 2 x min(share of resampled differences <= 0, share >= 0), at most 1.
    """
    targets = np.asarray(targets).astype(int)
    reference_scores = np.asarray(reference_scores, dtype=np.float64)
    other_scores = np.asarray(other_scores, dtype=np.float64)
    if len(reference_scores) != len(targets) or len(other_scores) != len(targets):
        raise ValueError(
            f"The ROC-AUC difference needs paired scores: {len(targets)} targets, {len(reference_scores)} reference "
            f"and {len(other_scores)} other scores. Score both models on the same images, in the same order."
        )
    differences: list[float] = []

    # group_bootstrap_intervals keeps only the interval; the p-value needs every resampled difference.
    def difference_on(rows: np.ndarray) -> dict[str, float]:
        difference = auc(targets[rows], other_scores[rows]) - auc(targets[rows], reference_scores[rows])
        differences.append(difference)
        return {"difference": difference}

    interval = group_bootstrap_intervals(
        np.asarray(patient_ids), difference_on, resamples, seed, confidence=confidence_level, strata=targets
    )["difference"]
    samples = np.asarray(differences)
    p_value = min(1.0, 2 * min(float((samples <= 0).mean()), float((samples >= 0).mean())))
    return {
        "difference": auc(targets, other_scores) - auc(targets, reference_scores),
        "ci_low": interval[0],
        "ci_high": interval[1],
        "p_value": p_value,
    }


def holm_adjust(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni step-down adjusted p-values (same keys), monotone in the raw p and at most 1.

    The i-th smallest of m p-values is multiplied by m - i + 1, then each adjusted value is raised
    to the largest before it, so rejecting where the adjusted p < alpha controls the family-wise
    error rate at alpha.
    """
    names = sorted(p_values, key=lambda name: p_values[name])
    adjusted: dict[str, float] = {}
    running_max = 0.0
    for rank, name in enumerate(names):
        running_max = max(running_max, min(1.0, (len(names) - rank) * p_values[name]))
        adjusted[name] = running_max
    return {name: adjusted[name] for name in p_values}
