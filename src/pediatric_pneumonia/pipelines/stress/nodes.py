"""Shift stress report: the model's metrics when its images are shifted as another scanner, clinic
or year would shift them, at graded severities, on validation and on the test split."""

import logging
import time

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...evaluation.metrics import core_metrics
from ...imaging.shifts import IDENTITY, apply_shift
from ...inference import Predictor
from ...parameters import Stress

logger = logging.getLogger(__name__)

STRESSED_SETS = ("validation", "test")
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
    predictor package scores them (calibrated, cut at its validation-chosen threshold). Seeded.
    """
    started = time.perf_counter()

    def scored(images: np.ndarray, targets: np.ndarray) -> dict:
        return core_metrics(targets, predictor.probabilities(images), predictor.threshold)

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
    for set_name, rows in stress_table.groupby("set", sort=False):
        clean = rows[rows["severity"] == 0].iloc[0]
        shifted = rows[rows["severity"] > 0]
        for metric in STRESS_METRICS:
            worst = shifted.loc[shifted[metric].idxmin()]
            summary[f"{set_name}.{metric}_clean"] = float(clean[metric])
            summary[f"{set_name}.{metric}_mean"] = float(shifted[metric].mean())
            summary[f"{set_name}.{metric}_worst"] = float(worst[metric])
            summary[f"{set_name}.{metric}_worst_shift"] = f"{worst['shift']} severity {worst['severity']}"
        for row in shifted.itertuples(index=False):
            for metric in STRESS_METRICS:
                summary[f"{set_name}.{row.shift}.{row.severity}.{metric}"] = float(getattr(row, metric))
    return summary


def plot_stress(stress_table: pd.DataFrame) -> Figure:
    """Each metric against severity, one line per shift; a row per set."""
    sets = list(dict.fromkeys(stress_table["set"]))
    figure = Figure(figsize=(13, 4 * len(sets)), layout="constrained")
    axes_grid = np.atleast_2d(figure.subplots(len(sets), len(STRESS_METRICS), sharex=True))
    for row_axes, set_name in zip(axes_grid, sets):
        rows = stress_table[stress_table["set"] == set_name]
        for axes, metric in zip(row_axes, STRESS_METRICS):
            for shift, shift_rows in rows.groupby("shift", sort=False):
                axes.plot(shift_rows["severity"], shift_rows[metric], marker="o", label=shift)
            axes.set_title(f"{set_name}: {metric}")
            axes.set_xlabel("severity (0 = no shift)")
            axes.set_ylim(-0.02, 1.02)
            axes.grid(alpha=0.3)
    axes_grid[0, -1].legend(loc="lower left", fontsize="small")
    return figure
