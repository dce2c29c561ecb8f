"""The shortcut audit: properties of an X-ray that are not pneumonia (sharpness, framing, burned-in
markers, global intensity), how much of the label they predict on the training split, and how a
model's validation metrics move across their strata.

A model that leans on a shortcut shows a slope across the strata of that property (e.g. NORMAL
images called pneumonia more often the blurrier they are); a model that reads the lungs stays flat.
Everything here works on stored uint8 images (before intensity normalisation), as the scanner made them.
"""

import cv2
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# What each property measures, in the order of the tables and plots.
SHORTCUT_PROPERTIES = {
    "sharpness": "variance of the Laplacian (low = blurry)",
    "foreground_share": "share of the frame above the image's Otsu threshold (body vs air)",
    "body_box_share": "area share of the bounding box of the rows and columns that are mostly body",
    "marker_share": "share of the border band covered by small bright marks on dark background (letters, L/R markers)",
    "mean_intensity": "mean grey level",
    "intensity_std": "standard deviation of the grey levels",
}

# A mark is brighter than its surround by this many grey levels after an opening of MARKER_KERNEL
# x the side, sits where the opened image is as dark as the darkest MARKER_BACKGROUND_PERCENTILE %
# of the image (air, not lung), and its component spans at most MARKER_MAX_SIDE x the side.
MARKER_CONTRAST = 40
MARKER_KERNEL = 0.08
MARKER_BACKGROUND_PERCENTILE = 10
MARKER_MAX_SIDE = 0.1
MARKER_MIN_AREA = 3
# A row or column is "mostly body" when at least this share of it is above the Otsu threshold.
BODY_LINE_SHARE = 0.5


def _border_band(height: int, width: int, border_fraction: float) -> np.ndarray:
    """A (H, W) bool mask of the pixels within ``border_fraction`` of the side of any edge."""
    rows, columns = round(border_fraction * height), round(border_fraction * width)
    band = np.ones((height, width), dtype=bool)
    band[rows : height - rows, columns : width - columns] = False
    return band


def marker_mask(image: np.ndarray, dark_level: float, band: np.ndarray) -> np.ndarray:
    """The (H, W) bool mask of small bright marks on dark background within ``band``: burned-in
    letters, L/R markers, clips (see the MARKER_* constants)."""
    side = min(image.shape)
    kernel_side = max(3, round(MARKER_KERNEL * side)) | 1
    opened = cv2.morphologyEx(image, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_side, kernel_side)))
    candidates = (image.astype(np.int16) - opened >= MARKER_CONTRAST) & (opened <= dark_level) & band
    if not candidates.any():
        return candidates
    _, components, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8), connectivity=8)
    max_side = max(1, round(MARKER_MAX_SIDE * side))
    keep = (
        (stats[:, cv2.CC_STAT_WIDTH] <= max_side)
        & (stats[:, cv2.CC_STAT_HEIGHT] <= max_side)
        & (stats[:, cv2.CC_STAT_AREA] >= MARKER_MIN_AREA)
    )
    keep[0] = False  # the background component
    return keep[components]


def _body_box_share(foreground: np.ndarray) -> float:
    """Area share of the box spanned by the rows and columns that are mostly foreground."""
    rows = np.flatnonzero(foreground.mean(axis=1) >= BODY_LINE_SHARE)
    columns = np.flatnonzero(foreground.mean(axis=0) >= BODY_LINE_SHARE)
    if not len(rows) or not len(columns):
        return 0.0
    return float((rows[-1] - rows[0] + 1) * (columns[-1] - columns[0] + 1) / foreground.size)


def image_properties(images: np.ndarray, border_fraction: float) -> pd.DataFrame:
    """One row per (N, H, W) uint8 stored image, one column per ``SHORTCUT_PROPERTIES`` entry.

    ``border_fraction`` is the band along the edges where burned-in markers are looked for (the
    same band as Grad-CAM's border mass).
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"image_properties needs (N, H, W) uint8 stored images, got {images.shape} {images.dtype}.")
    count, height, width = images.shape
    flat = images.reshape(count, -1)
    dark_levels = np.percentile(flat, MARKER_BACKGROUND_PERCENTILE, axis=1) if count else np.zeros(0)
    band = _border_band(height, width, border_fraction)
    rows = []
    for image, dark_level in zip(images, dark_levels):
        _, foreground = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        rows.append(
            (
                float(cv2.meanStdDev(cv2.Laplacian(image, cv2.CV_64F))[1][0, 0] ** 2),
                float(foreground.mean()),
                _body_box_share(foreground),
                float(marker_mask(image, dark_level, band)[band].mean()),
            )
        )
    table = pd.DataFrame(rows, columns=list(SHORTCUT_PROPERTIES)[:4], dtype=float)
    table["mean_intensity"] = flat.mean(axis=1, dtype=np.float64)
    table["intensity_std"] = flat.std(axis=1, dtype=np.float64)
    return table[list(SHORTCUT_PROPERTIES)]


def label_predictability(properties: pd.DataFrame, targets: np.ndarray, folds: int, seed: int) -> dict:
    """How much of the label each property predicts alone, and all of them together.

    Per property: ROC-AUC of the property as a score, reported as ``max(auc, 1 - auc)`` (0.5 =
    nothing, 1 = the label) with ``direction`` (``higher_in_positive`` or ``lower_in_positive``).
    Together: the out-of-fold ROC-AUC of a logistic regression on the standardised properties,
    ``folds``-fold stratified cross-validation, seeded.
    """
    targets = np.asarray(targets).astype(int)
    if len(np.unique(targets)) < 2:
        raise ValueError("The shortcut audit needs images of both classes in the training split; it found one class only.")
    audit: dict = {"n_images": int(len(targets))}
    for name in properties.columns:
        auc = float(roc_auc_score(targets, properties[name]))
        audit[f"{name}.roc_auc"] = max(auc, 1.0 - auc)
        audit[f"{name}.direction"] = "higher_in_positive" if auc >= 0.5 else "lower_in_positive"
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    splits = StratifiedKFold(n_splits=min(folds, int(np.bincount(targets).min())), shuffle=True, random_state=seed)
    scores = cross_val_predict(model, properties.to_numpy(), targets, cv=splits, method="predict_proba")[:, 1]
    audit["combined.roc_auc"] = float(roc_auc_score(targets, scores))
    return audit


def strata_boundaries(values: np.ndarray, strata: int) -> np.ndarray:
    """The inner boundaries of ``strata`` equal-count strata of ``values`` (quantiles), with ties
    merged (a property that is mostly 0 gives fewer strata)."""
    return np.unique(np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, strata + 1)[1:-1]))


def stratum_of(values: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """The stratum (1-based) of each value: stratum i holds values in (boundary i-1, boundary i]."""
    return np.searchsorted(boundaries, np.asarray(values, dtype=float), side="left") + 1


def strata_metrics(
    train_values: pd.DataFrame,
    values: pd.DataFrame,
    targets: np.ndarray,
    predicted_positive: np.ndarray,
    strata: int,
) -> pd.DataFrame:
    """Per property and stratum (boundaries from ``train_values``), specificity of the negative
    images and sensitivity of the positive ones, with their counts. One row per property and
    stratum: ``property``, ``stratum``, ``low``, ``high`` (the stratum's bounds, open-ended at
    the ends), ``n_negative``, ``specificity``, ``n_positive``, ``sensitivity`` (NaN where the
    stratum holds no image of that class)."""
    targets = np.asarray(targets).astype(int)
    predicted_positive = np.asarray(predicted_positive, dtype=bool)
    rows = []
    for name in values.columns:
        boundaries = strata_boundaries(train_values[name].to_numpy(), strata)
        stratum = stratum_of(values[name].to_numpy(), boundaries)
        edges = np.concatenate([[-np.inf], boundaries, [np.inf]])
        for index in range(1, len(boundaries) + 2):
            negative = (stratum == index) & (targets == 0)
            positive = (stratum == index) & (targets == 1)
            rows.append(
                {
                    "property": name,
                    "stratum": index,
                    "low": float(edges[index - 1]),
                    "high": float(edges[index]),
                    "n_negative": int(negative.sum()),
                    "specificity": float(np.mean(~predicted_positive[negative])) if negative.any() else np.nan,
                    "n_positive": int(positive.sum()),
                    "sensitivity": float(np.mean(predicted_positive[positive])) if positive.any() else np.nan,
                }
            )
    return pd.DataFrame(rows)


def strata_summary(strata_table: pd.DataFrame) -> dict:
    """Per property and metric (specificity, sensitivity): ``spread`` (max - min over the strata
    that hold images of that class) and ``slope`` (least-squares change per stratum step; its
    sign says which end does better). Flat keys ``<property>.<metric>_spread`` / ``_slope``."""
    summary: dict = {}
    for name, rows in strata_table.groupby("property", sort=False):
        for metric in ("specificity", "sensitivity"):
            present = rows.dropna(subset=[metric])
            if present.empty:
                continue
            summary[f"{name}.{metric}_spread"] = float(present[metric].max() - present[metric].min())
            if len(present) > 1:
                summary[f"{name}.{metric}_slope"] = float(np.polyfit(present["stratum"], present[metric], 1)[0])
    return summary
