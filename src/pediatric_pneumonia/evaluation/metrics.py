"""Metrics of binary predictions (label 1 = positive, called positive when probability >= threshold)."""

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_fscore_support


def require_both_classes(labels: np.ndarray, purpose: str, n_classes: int = 2) -> None:
    """Raise a ValueError if ``labels`` lack one of the ``n_classes`` classes (nothing honest can be
    fitted then)."""
    present = set(np.unique(labels).astype(int).tolist())
    if present != set(range(n_classes)):
        needed = "both classes (0 and 1)" if n_classes == 2 else f"all {n_classes} classes (0 to {n_classes - 1})"
        raise ValueError(
            f"Cannot {purpose}: the validation set holds only label(s) {sorted(present)} ({len(labels)} images), "
            f"but {needed} are needed. Make validation hold every class: raise "
            "split.validation_fraction or add images of the missing class, then rerun data_preparation."
        )


def operating_point(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity at ``threshold`` (both classes must be present)."""
    called_positive = probabilities >= threshold
    return float(called_positive[labels == 1].mean()), float(1 - called_positive[labels == 0].mean())


def threshold_metrics(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Metrics of the positive class (and weighted averages over both classes) at one threshold."""
    predictions = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(targets, predictions, labels=[0, 1])
    true_negatives, false_positives, _, _ = matrix.ravel()
    precision, recall, f1, _ = precision_recall_fscore_support(
        targets, predictions, labels=[1], average=None, zero_division=0
    )
    weighted = precision_recall_fscore_support(targets, predictions, labels=[0, 1], average="weighted", zero_division=0)
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


def roc_auc(targets: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half): the chance that a random positive
    scores above a random negative. Both classes must be present."""
    ranks = rankdata(scores)
    positives = targets == 1
    n_positive, n_negative = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def class_counts(targets: np.ndarray, classes: list[str]) -> dict[str, int]:
    """How many images of each class ``targets`` (class indices) hold, by class name."""
    targets = np.asarray(targets)
    return {name: int((targets == index).sum()) for index, name in enumerate(classes)}


def argmax_accuracy(targets: np.ndarray, probabilities: np.ndarray) -> float:
    """The share of images whose most probable class ((N, K) probabilities) is their label."""
    return float((np.argmax(probabilities, axis=1) == np.asarray(targets)).mean())


def class_recalls(targets: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict[str, float]:
    """``recall_<CLASS>`` of the argmax decision for every class present in ``targets``."""
    predicted = np.argmax(probabilities, axis=1)
    return {
        f"recall_{name}": float((predicted[targets == index] == index).mean())
        for index, name in enumerate(classes)
        if (targets == index).any()
    }


def one_vs_rest_roc_auc(targets: np.ndarray, probabilities: np.ndarray, index: int) -> float:
    """ROC-AUC of class ``index`` against every other, scored by its probability ((N, K))."""
    return roc_auc((np.asarray(targets) == index).astype(int), probabilities[:, index])


def macro_roc_auc(targets: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean one-vs-rest ROC-AUC over the classes of (N, K) probabilities (every class present)."""
    return float(np.mean([one_vs_rest_roc_auc(targets, probabilities, index) for index in range(probabilities.shape[1])]))


def core_metrics(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, sensitivity, specificity at ``threshold`` and ROC-AUC; a figure that is undefined
    on these targets (sensitivity without positives, ROC-AUC with one class) is left out rather
    than given a made-up value."""
    predictions = probabilities >= threshold
    positives, negatives = targets == 1, targets == 0
    metrics = {"accuracy": float((predictions == positives).mean())}
    if positives.any():
        metrics["sensitivity"] = float(predictions[positives].mean())
    if negatives.any():
        metrics["specificity"] = float(1 - predictions[negatives].mean())
    if positives.any() and negatives.any():
        metrics["roc_auc"] = roc_auc(targets, probabilities)
    return metrics


def headline_metrics(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    """``core_metrics`` with precision, F1 and PR-AUC (average precision), where defined."""
    metrics = core_metrics(targets, probabilities, threshold)
    predictions, positives = probabilities >= threshold, targets == 1
    if predictions.any():
        metrics["precision"] = float(positives[predictions].mean())
    if positives.any() and predictions.any():
        metrics["f1"] = float(2 * (predictions & positives).sum() / (predictions.sum() + positives.sum()))
    if "roc_auc" in metrics:
        metrics["pr_auc"] = float(average_precision_score(targets, probabilities))
    return metrics
