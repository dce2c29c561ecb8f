"""Explain: Grad-CAM on a sample of test images of every outcome, the overlays, a contact sheet,
and whether the maps can be trusted (randomisation sanity check, heat near the border)."""

import logging
import re
from pathlib import PurePath

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from ...evaluation.multiclass import binary_view
from ...explain import border_mass_share, grad_cam, overlay_heatmap, randomised_copy, rank_correlation
from ...imaging.preprocess import as_model_input
from ...inference import Predictor
from ...parameters import Explain, Preprocessing

logger = logging.getLogger(__name__)

OUTCOMES = ("true_positive", "true_negative", "false_positive", "false_negative")




def select_explanation_sample(
    test_predictions: pd.DataFrame, decision_threshold: dict, classes: list[str], explain: Explain
) -> pd.DataFrame:
    """The test images to explain, one row each: ``position`` in the test set, path, target,
    calibrated probability and outcome at the decision threshold (of pneumonia: for a K-class
    model, P(pneumonia) and the pneumonia target, ``evaluation.multiclass.binary_view``).

    Up to ``per_outcome`` true positives and true negatives (seeded draw), and every false
    positive and false negative up to ``max_errors`` each (the most confident errors first).
    """
    predictions = binary_view(test_predictions, classes)[0].reset_index(drop=True).assign(position=lambda frame: frame.index)
    predicted = predictions["probability"] >= decision_threshold["threshold"]
    positive = predictions["target"] == 1
    predictions["outcome"] = np.select(
        [predicted & positive, ~predicted & ~positive, predicted & ~positive],
        OUTCOMES[:3],
        default=OUTCOMES[3],
    )
    rng = np.random.default_rng(explain.seed)
    chosen = []
    for outcome in OUTCOMES:
        rows = predictions[predictions["outcome"] == outcome]
        if outcome.startswith("true"):
            picks = rng.choice(len(rows), size=min(explain.per_outcome, len(rows)), replace=False)
            rows = rows.iloc[np.sort(picks)]
        else:
            confidence = (rows["probability"] - decision_threshold["threshold"]).abs()
            rows = rows.loc[confidence.sort_values(ascending=False, kind="stable").index[: explain.max_errors]]
        chosen.append(rows)
    sample = pd.concat(chosen, ignore_index=True)
    logger.info("Explaining %s.", ", ".join(f"{count} {name}" for name, count in sample["outcome"].value_counts().items()))
    return sample[["position", "path", "target", "probability", "outcome"]]


def _sampled_images(test_set: dict, explanation_sample: pd.DataFrame) -> np.ndarray:
    """The sampled test images as stored: (N, H, W) uint8."""
    return test_set["images"][explanation_sample["position"].to_numpy(dtype=int)]


def _sampled_input(test_set: dict, explanation_sample: pd.DataFrame, preprocessing: Preprocessing) -> np.ndarray:
    """The sampled test images as the model is fed them: (N, H, W, 1) float32, normalised."""
    return as_model_input(_sampled_images(test_set, explanation_sample), preprocessing.intensity.plain())


def compute_heatmaps(
    predictor: Predictor, test_set: dict, explanation_sample: pd.DataFrame, explain: Explain
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps of the sample from the predictor package's model and from a randomised copy of it."""
    images = _sampled_images(test_set, explanation_sample)
    trained = predictor.heatmaps(images, explain.layer)
    randomised_model = randomised_copy(predictor.classifier, explain.randomisation_seed)
    randomised = grad_cam(randomised_model, predictor.model_input(images), explain.layer)
    return trained, randomised


def _overlays(test_set: dict, explanation_sample: pd.DataFrame, heatmaps: np.ndarray, explain: Explain, preprocessing: Preprocessing):
    """(sample row, overlay) pairs; each overlay is drawn on the image as the model saw it."""
    images = _sampled_input(test_set, explanation_sample, preprocessing)
    for row, image, heatmap in zip(explanation_sample.itertuples(index=False), images[..., 0], heatmaps):
        yield row, overlay_heatmap(image.astype(np.uint8), heatmap, explain.alpha)


def render_overlays(
    test_set: dict,
    explanation_sample: pd.DataFrame,
    heatmaps: np.ndarray,
    explain: Explain,
    preprocessing: Preprocessing,
    classes: list[str],
) -> dict[str, Image.Image]:
    """One RGB overlay per sampled image, named ``<nn>_<outcome>_<true class>_p<probability>_<file stem>``."""
    overlays = {}
    for index, (row, overlay) in enumerate(_overlays(test_set, explanation_sample, heatmaps, explain, preprocessing)):
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePath(row.path).stem)
        overlays[f"{index:03d}_{row.outcome}_{classes[row.target]}_p{row.probability:.3f}_{stem}"] = Image.fromarray(overlay)
    return overlays


def plot_contact_sheet(
    test_set: dict,
    explanation_sample: pd.DataFrame,
    heatmaps: np.ndarray,
    explain: Explain,
    preprocessing: Preprocessing,
    classes: list[str],
) -> Figure:
    """Every overlay on one page, titled with outcome, true class and calibrated probability."""
    columns = explain.contact_sheet_columns
    rows = max(1, -(-len(explanation_sample) // columns))
    figure = Figure(figsize=(2.4 * columns, 2.6 * rows), layout="constrained")
    axes_grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes in axes_grid:
        axes.set_axis_off()
    for axes, (row, overlay) in zip(axes_grid, _overlays(test_set, explanation_sample, heatmaps, explain, preprocessing)):
        axes.imshow(overlay)
        axes.set_title(f"{row.outcome.replace('_', ' ')}\n{classes[row.target]}, p={row.probability:.2f}", fontsize=8)
    if explanation_sample.empty:
        axes_grid[0].text(0.5, 0.5, "No test images to explain", ha="center", va="center")
    figure.suptitle("Grad-CAM of the pneumonia output (red = evidence for pneumonia)")
    return figure


def summarise_explanations(
    explanation_sample: pd.DataFrame,
    heatmaps: np.ndarray,
    randomised_heatmaps: np.ndarray,
    explain: Explain,
    classes: list[str],
) -> dict:
    """Flat metrics: sample counts per outcome, maps with no evidence, and overall and per true
    class the mean ``border_mass_share`` and the mean rank correlation between the trained and the
    randomised model's maps (near 0 = the maps depend on what the model learned, as they should)."""
    metrics: dict = {"n_explained": len(explanation_sample)}
    metrics |= {f"n_{outcome}": int((explanation_sample["outcome"] == outcome).sum()) for outcome in OUTCOMES}
    metrics["n_empty_maps"] = int(sum(not heatmap.any() for heatmap in heatmaps))
    if explanation_sample.empty:
        return metrics
    border = np.array([border_mass_share(heatmap, explain.border_fraction) for heatmap in heatmaps])
    correlation = np.array([rank_correlation(a, b) for a, b in zip(heatmaps, randomised_heatmaps)])
    metrics["border_mass_share_mean"] = float(border.mean())
    metrics["randomisation_rank_correlation_mean"] = float(correlation.mean())
    targets = explanation_sample["target"].to_numpy()
    for label, name in enumerate(classes):
        if (targets == label).any():
            metrics[f"border_mass_share.{name}"] = float(border[targets == label].mean())
            metrics[f"randomisation_rank_correlation.{name}"] = float(correlation[targets == label].mean())
    return metrics
