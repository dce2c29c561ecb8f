"""Shift stress report: the model's metrics when its images are shifted as another scanner, clinic
or year would shift them, at graded severities, on validation and on the test split."""

import logging
import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...evaluation.frames import pneumonia_probability, pneumonia_targets
from ...evaluation.metrics import argmax_accuracy, class_recalls, core_metrics
from ...imaging.shifts import IDENTITY, apply_shift
from ...inference import Predictor
from ...parameters import Stress

logger = logging.getLogger(__name__)

STRESSED_SETS = ("validation", "test")
# Of P(pneumonia) at the package's threshold, for every model; a K-class model adds its argmax
# accuracy and each class's recall (recall_<CLASS>).
STRESS_METRICS = ("roc_auc", "sensitivity", "specificity")


def stratified_subset(image_set: dict, max_images: int | None, rng: np.random.Generator) -> dict:
    """At most ``max_images`` images of ``image_set``, each class keeping its share."""
    labels = image_set["labels"]
    if max_images is None or len(labels) <= max_images:
        return image_set
    chosen = np.concatenate(
        [
            rng.choice(members, size=max(1, round(max_images * len(members) / len(labels))), replace=False)
            for members in (np.flatnonzero(labels == label) for label in np.unique(labels))
        ]
    )
    return {name: values[np.sort(chosen)] for name, values in image_set.items()}


def stress_test(predictor: Predictor, validation_set: dict, test_set: dict, stress: Stress) -> pd.DataFrame:
    """One row per set, shift and severity (0 = no shift, shared by every shift) with its metrics.

    Shifts act on the stored image before the intensity normalisation, as a scanner's would; the
    predictor package scores them (calibrated, cut at its validation-chosen threshold; for a K-class
    model, P(pneumonia) at it, and the argmax accuracy and recall of each class). Seeded.
    """
    started = time.perf_counter()
    n_classes = len(predictor.classes)

    def scored(images: np.ndarray, targets: np.ndarray) -> dict:
        probabilities = predictor.probabilities(images)
        metrics = core_metrics(
            pneumonia_targets(targets, n_classes), pneumonia_probability(probabilities), predictor.threshold
        )
        if n_classes > 2:
            metrics["multiclass_accuracy"] = argmax_accuracy(targets, probabilities)
            metrics |= class_recalls(targets, probabilities, predictor.classes)
        return metrics

    rows = []
    for set_index, (set_name, image_set) in enumerate(zip(STRESSED_SETS, (validation_set, test_set))):
        sample = stratified_subset(image_set, stress.max_images, np.random.default_rng([stress.seed, set_index]))
        images, targets = sample["images"], sample["labels"].astype(int)
        unshifted = scored(images, targets)
        for shift_index, (shift, magnitudes) in enumerate(stress.severities.items()):
            rows.append({"set": set_name, "shift": shift, "severity": 0, "magnitude": IDENTITY[shift], **unshifted})
            for severity, magnitude in enumerate(magnitudes, start=1):
                rng = np.random.default_rng([stress.seed, set_index, shift_index, severity])
                metrics = scored(apply_shift(images, shift, magnitude, rng), targets)
                rows.append({"set": set_name, "shift": shift, "severity": severity, "magnitude": magnitude, **metrics})
        logger.info("Stress-tested %d %s images.", len(targets), set_name)
    logger.info("Stress report took %.1f s.", time.perf_counter() - started)
    return pd.DataFrame(rows)


def summarise_stress(stress_table: pd.DataFrame) -> dict:
    """Flat keys: per set, each metric unshifted (``_clean``), its mean and worst over every shifted
    condition and the shift that gave the worst, and every condition as ``<set>.<shift>.<severity>.<metric>``."""
    summary: dict = {}
    metrics = stress_metrics_of(stress_table)
    for set_name, rows in stress_table.groupby("set", sort=False):
        clean = rows[rows["severity"] == 0].iloc[0]
        shifted = rows[rows["severity"] > 0]
        for metric in metrics:
            worst = shifted.loc[shifted[metric].idxmin()]
            summary[f"{set_name}.{metric}_clean"] = float(clean[metric])
            summary[f"{set_name}.{metric}_mean"] = float(shifted[metric].mean())
            summary[f"{set_name}.{metric}_worst"] = float(worst[metric])
            summary[f"{set_name}.{metric}_worst_shift"] = f"{worst['shift']} severity {worst['severity']}"
        for row in shifted.itertuples(index=False):
            for metric in metrics:
                summary[f"{set_name}.{row.shift}.{row.severity}.{metric}"] = float(getattr(row, metric))
    return summary


def stress_metrics_of(stress_table: pd.DataFrame) -> tuple[str, ...]:
    """The metrics a stress table holds: ``STRESS_METRICS``, and a K-class model's argmax accuracy
    and per-class recalls."""
    multiclass = [column for column in stress_table.columns if column == "multiclass_accuracy" or column.startswith("recall_")]
    return STRESS_METRICS + tuple(multiclass)


def plot_stress(stress_table: pd.DataFrame) -> Figure:
    """Each metric against severity, one line per shift; a row per set."""
    sets, metrics = list(dict.fromkeys(stress_table["set"])), stress_metrics_of(stress_table)
    figure = Figure(figsize=(4.4 * len(metrics), 4 * len(sets)), layout="constrained")
    axes_grid = np.atleast_2d(figure.subplots(len(sets), len(metrics), sharex=True))
    for row_axes, set_name in zip(axes_grid, sets):
        rows = stress_table[stress_table["set"] == set_name]
        for axes, metric in zip(row_axes, metrics):
            for shift, shift_rows in rows.groupby("shift", sort=False):
                axes.plot(shift_rows["severity"], shift_rows[metric], marker="o", label=shift)
            axes.set_title(f"{set_name}: {metric}")
            axes.set_xlabel("severity (0 = no shift)")
            axes.set_ylim(-0.02, 1.02)
            axes.grid(alpha=0.3)
    axes_grid[0, -1].legend(loc="lower left", fontsize="small")
    return figure
