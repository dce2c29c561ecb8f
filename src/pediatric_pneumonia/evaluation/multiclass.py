"""The report of a model of more than two classes (NORMAL, BACTERIA, VIRUS): the figures a binary
report cannot hold, added beside the binary ones that ``report.prediction_report`` computes from
P(pneumonia) (``binary_view``), so the two tasks compare on the same binary figures.

Figures (K classes, argmax decision; ``multiclass_`` and per-class names never collide with the
binary report's): ``multiclass_accuracy``, ``multiclass_confusion_matrix`` (rows true, columns
predicted, in class order), per class ``recall_<CLASS>`` (its sensitivity), ``precision_<CLASS>``,
``f1_<CLASS>`` and one-vs-rest ``roc_auc_<CLASS>``; ``multiclass_macro_f1``,
``multiclass_weighted_f1``, ``multiclass_macro_roc_auc``; ``<a>_vs_<b>_roc_auc`` between the last
two classes on their images only (bacteria vs virus); NLL, top-label ECE and Brier before and
after calibration (``test_multiclass_nll_after``, ...); patient-bootstrap intervals of the
accuracy and macro ROC-AUC, and ``patient_multiclass_accuracy`` (each patient's mean probabilities).
"""

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ..naming import PNEUMONIA
from ..parameters import Reporting
from .bootstrap import group_bootstrap_intervals
from .calibration import calibration_scores
from .frames import pneumonia_probability, pneumonia_targets, probabilities_of, probability_columns
from .metrics import argmax_accuracy, macro_roc_auc, one_vs_rest_roc_auc, roc_auc


def binary_classes(classes: list[str]) -> list[str]:
    """The two classes of the binary question: ``classes`` themselves, or the first and PNEUMONIA."""
    return classes if len(classes) == 2 else [classes[0], PNEUMONIA]


def subtype_pair(classes: list[str]) -> tuple[str, str] | None:
    """The two pneumonia subtypes a K-class task tells apart (its last two classes: BACTERIA and
    VIRUS), or None for two classes."""
    return (classes[-2], classes[-1]) if len(classes) > 2 else None


def pair_name(pair: tuple[str, str]) -> str:
    """The prefix of the figures that compare the classes of ``pair``: ``bacteria_vs_virus``."""
    return f"{pair[0].lower()}_vs_{pair[1].lower()}"


def binary_view(predictions: pd.DataFrame, classes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """A K-class prediction table as a two-class one: ``target`` 1 for every class but the first,
    ``raw_probability`` and ``probability`` = P(pneumonia) (1 - the first class's); with the binary
    class names. A two-class table is returned as it is."""
    if len(classes) == 2:
        return predictions, classes
    view = predictions.assign(
        target=pneumonia_targets(predictions["target"].to_numpy(), len(classes)),
        raw_probability=pneumonia_probability(probabilities_of(predictions, "raw_probability", classes)),
        probability=pneumonia_probability(probabilities_of(predictions, "probability", classes)),
    )
    return view, binary_classes(classes)


def accuracy_and_macro_auc(targets: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The argmax accuracy and, where every class is present, the macro one-vs-rest ROC-AUC."""
    figures = {"multiclass_accuracy": argmax_accuracy(targets, probabilities)}
    if len(np.unique(targets)) == probabilities.shape[1]:
        figures["multiclass_macro_roc_auc"] = macro_roc_auc(targets, probabilities)
    return figures


def multiclass_figures(predictions: pd.DataFrame, classes: list[str], reporting: Reporting, bins: int) -> dict:
    """The K-class figures of scored, labelled images (see the module's docstring)."""
    targets = predictions["target"].to_numpy(dtype=int)
    probabilities = probabilities_of(predictions, "probability", classes)
    predicted = np.argmax(probabilities, axis=1)
    indices = list(range(len(classes)))
    precision, recall, f1, _ = precision_recall_fscore_support(targets, predicted, labels=indices, zero_division=0)
    weighted = precision_recall_fscore_support(targets, predicted, labels=indices, average="weighted", zero_division=0)
    figures = {
        **accuracy_and_macro_auc(targets, probabilities),
        "multiclass_confusion_matrix": confusion_matrix(targets, predicted, labels=indices).tolist(),
        "multiclass_macro_f1": float(np.mean(f1)),
        "multiclass_weighted_f1": float(weighted[2]),
    }
    for index, name in enumerate(classes):
        present = (targets == index).any()
        if present:
            figures[f"recall_{name}"] = float(recall[index])
        figures[f"precision_{name}"] = float(precision[index])
        figures[f"f1_{name}"] = float(f1[index])
        if present and not (targets == index).all():
            figures[f"roc_auc_{name}"] = one_vs_rest_roc_auc(targets, probabilities, index)
    subtypes = subtype_pair(classes)
    first, second = (classes.index(name) for name in subtypes)
    pair = np.isin(targets, [first, second])
    if len(np.unique(targets[pair])) == 2:
        share = probabilities[pair, second] / np.maximum(probabilities[pair, first] + probabilities[pair, second], 1e-12)
        figures[f"{pair_name(subtypes)}_roc_auc"] = roc_auc((targets[pair] == second).astype(int), share)
    for stage, prefix in (("before", "raw_probability"), ("after", "probability")):
        scores = calibration_scores(targets, probabilities_of(predictions, prefix, classes), bins)
        figures |= {f"test_multiclass_{name}_{stage}": value for name, value in scores.items()}
    intervals = group_bootstrap_intervals(
        predictions["patient_id"].to_numpy(),
        lambda rows: accuracy_and_macro_auc(targets[rows], probabilities[rows]),
        resamples=reporting.bootstrap_resamples,
        seed=reporting.bootstrap_seed,
        confidence=reporting.confidence_level,
        strata=targets,
    )
    figures |= {f"{name}_ci_{end}": bound for name, (low, high) in intervals.items() for end, bound in (("low", low), ("high", high))}
    columns = probability_columns("probability", classes)
    patients = predictions.groupby("patient_id")[[*columns, "target"]].agg({**dict.fromkeys(columns, "mean"), "target": "first"})
    figures["patient_multiclass_accuracy"] = float(
        (np.argmax(patients[columns].to_numpy(), axis=1) == patients["target"].to_numpy()).mean()
    )
    return figures
