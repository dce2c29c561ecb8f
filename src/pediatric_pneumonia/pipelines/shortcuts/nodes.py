"""Shortcut audit: how much of the label properties that are not pneumonia predict on the training
split, and the model's validation specificity and sensitivity per stratum of each property, with
the Grad-CAM heat near the border (the library is ``evaluation/shortcuts.py``)."""

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...evaluation.frames import pneumonia_probability, pneumonia_targets
from ...evaluation.multiclass import binary_classes, pair_name, subtype_pair
from ...evaluation.shortcuts import (
    SHORTCUT_PROPERTIES,
    image_properties,
    label_predictability,
    strata_metrics,
    strata_summary,
)
from ...explain import border_mass_share
from ...inference import Predictor
from ...parameters import Explain, Shortcuts

STRATA_METRICS = ("specificity", "sensitivity")


def measure_shortcut_properties(train_set: dict, validation_set: dict, classes: list[str], explain: Explain) -> pd.DataFrame:
    """One row per training and validation image: ``subset``, ``path``, ``target`` (pneumonia or
    not, for a K-class task too: the audit asks what tells NORMAL from pneumonia), ``class`` (its
    class name) and every shortcut property (markers looked for within ``explain.border_fraction``
    of the edges)."""
    frames = [
        image_properties(image_set["images"], explain.border_fraction).assign(
            subset=subset,
            path=image_set["paths"],
            target=pneumonia_targets(image_set["labels"], len(classes)),
            **{"class": np.asarray(classes)[image_set["labels"]]},
        )
        for subset, image_set in (("train", train_set), ("validation", validation_set))
    ]
    return pd.concat(frames, ignore_index=True)[["subset", "path", "target", "class", *SHORTCUT_PROPERTIES]]


def score_shortcut_strata(
    predictor: Predictor, validation_set: dict, shortcut_properties: pd.DataFrame, shortcuts: Shortcuts
) -> pd.DataFrame:
    """The predictor's validation specificity (negative images) and sensitivity (positive ones) per
    stratum of each property, at its threshold (of P(pneumonia)); strata boundaries are quantiles
    of the training split."""
    properties = list(SHORTCUT_PROPERTIES)
    train = shortcut_properties[shortcut_properties["subset"] == "train"]
    validation = shortcut_properties[shortcut_properties["subset"] == "validation"]
    predicted_positive = pneumonia_probability(predictor.probabilities(validation_set["images"])) >= predictor.threshold
    return strata_metrics(
        train[properties], validation[properties], validation["target"].to_numpy(), predicted_positive, shortcuts.strata
    )


def measure_gradcam_border_mass(
    predictor: Predictor, validation_set: dict, shortcuts: Shortcuts, explain: Explain, classes: list[str]
) -> dict:
    """The share of Grad-CAM heat within ``explain.border_fraction`` of the edges, over a seeded
    draw of ``shortcuts.gradcam_images`` validation images: the mean, and per true class."""
    labels = validation_set["labels"]
    rng = np.random.default_rng(shortcuts.seed)
    chosen = np.sort(rng.choice(len(labels), size=min(shortcuts.gradcam_images, len(labels)), replace=False))
    metrics: dict = {"n_images": int(len(chosen))}
    if not len(chosen):
        return metrics
    heatmaps = predictor.heatmaps(validation_set["images"][chosen], explain.layer)
    border = np.array([border_mass_share(heatmap, explain.border_fraction) for heatmap in heatmaps])
    metrics["border_mass_share_mean"] = float(border.mean())
    for label, name in enumerate(classes):
        if (labels[chosen] == label).any():
            metrics[f"border_mass_share.{name}"] = float(border[labels[chosen] == label].mean())
    return metrics


def summarise_shortcut_audit(
    shortcut_properties: pd.DataFrame,
    shortcut_strata: pd.DataFrame,
    gradcam_border_mass: dict,
    shortcuts: Shortcuts,
    classes: list[str],
) -> dict:
    """Flat keys: the training split's label predictability (``train.<property>.roc_auc`` with its
    ``direction``, ``train.combined.roc_auc``), for a K-class task also between its two subtypes on
    their images (``train.bacteria_vs_virus.<property>.roc_auc``: what would tell them apart without
    looking at the lungs); per property the validation metrics of every stratum
    (``validation.<property>.<stratum>.specificity``), their spread and slope, and the property
    with the largest spread; the Grad-CAM border mass (``gradcam.``)."""
    train = shortcut_properties[shortcut_properties["subset"] == "train"]
    properties = list(SHORTCUT_PROPERTIES)
    training = label_predictability(train[properties], train["target"].to_numpy(), shortcuts.cv_folds, shortcuts.seed)
    summary: dict = {f"train.{key}": value for key, value in training.items()}
    if pair := subtype_pair(classes):
        subtypes = train[train["class"].isin(pair)]
        between = label_predictability(
            subtypes[properties], (subtypes["class"] == pair[1]).to_numpy(), shortcuts.cv_folds, shortcuts.seed
        )
        summary |= {f"train.{pair_name(pair)}.{key}": value for key, value in between.items()}
    spread = strata_summary(shortcut_strata)
    for row in shortcut_strata.itertuples(index=False):
        for metric in STRATA_METRICS:
            if not np.isnan(getattr(row, metric)):
                summary[f"validation.{row.property}.{row.stratum}.{metric}"] = float(getattr(row, metric))
    summary |= {f"validation.{key}": value for key, value in spread.items()}
    for metric in STRATA_METRICS:
        spreads = {name: spread[f"{name}.{metric}_spread"] for name in SHORTCUT_PROPERTIES if f"{name}.{metric}_spread" in spread}
        if spreads:
            worst = max(spreads, key=spreads.get)
            summary[f"validation.{metric}_spread_worst"] = spreads[worst]
            summary[f"validation.{metric}_spread_worst_property"] = worst
    return summary | {f"gradcam.{key}": value for key, value in gradcam_border_mass.items()}


def plot_shortcut_strata(shortcut_strata: pd.DataFrame, classes: list[str]) -> Figure:
    """One panel per property: validation specificity (negative class) and sensitivity (positive
    class) against the property's stratum, with the image counts; flat lines = no shortcut."""
    properties = list(dict.fromkeys(shortcut_strata["property"]))
    negative, positive = binary_classes(classes)
    columns = 3
    rows = max(1, -(-len(properties) // columns))
    figure = Figure(figsize=(4.2 * columns, 3.4 * rows), layout="constrained")
    axes_grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes in axes_grid[len(properties) :]:
        axes.set_axis_off()
    for axes, name in zip(axes_grid, properties):
        strata = shortcut_strata[shortcut_strata["property"] == name]
        for metric, count, label in (("specificity", "n_negative", negative), ("sensitivity", "n_positive", positive)):
            axes.plot(strata["stratum"], strata[metric], marker="o", label=f"{metric} ({label})")
            for row in strata.itertuples(index=False):
                if not np.isnan(getattr(row, metric)):
                    axes.annotate(str(getattr(row, count)), (row.stratum, getattr(row, metric)), fontsize=7,
                                  textcoords="offset points", xytext=(0, 5), ha="center")
        axes.set_title(name)
        axes.set_xlabel("stratum (training-split quantiles, low to high)")
        axes.set_xticks(strata["stratum"])
        axes.set_ylim(-0.02, 1.1)
        axes.grid(alpha=0.3)
    axes_grid[0].legend(loc="lower left", fontsize="small")
    figure.suptitle("Validation metrics per stratum of properties that are not pneumonia (n = images)")
    return figure
