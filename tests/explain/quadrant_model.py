"""A tiny project CNN trained on images where a bright square in the top-left quadrant means
pneumonia (no square means normal), so a faithful heat map is predictable.

Normal images get no square rather than a square elsewhere: after Flatten + Dense, evidence that
depends on *where* a feature is cancels in Grad-CAM's spatially averaged channel weights (a known
limit of Grad-CAM), which would blank the maps instead of testing them."""

from functools import cache

import keras
import numpy as np

from pediatric_pneumonia.models.classifier import build_classifier

from ..conftest import PAPER_ARCHITECTURE

SIZE = 32
HALF = SIZE // 2


def square_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dark noisy uint8 images; label 1 ones have a bright 6x6 square in the top-left quadrant."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (count, SIZE, SIZE)).astype(np.uint8)
    labels = rng.integers(0, 2, count).astype(np.uint8)
    for index in np.flatnonzero(labels):
        top, left = rng.integers(2, HALF - 6, size=2)
        images[index, top : top + 6, left : left + 6] = 230
    return images, labels


def quadrant_masses(heatmap: np.ndarray) -> list[float]:
    """Heat-map mass in the top-left, top-right, bottom-left and bottom-right quadrants."""
    return [float(heatmap[rows, columns].sum()) for rows in (slice(0, HALF), slice(HALF, None)) for columns in (slice(0, HALF), slice(HALF, None))]


@cache
def trained_quadrant_model() -> keras.Model:
    """The project CNN (small filters) trained to 100 % training accuracy in a few seconds; cached."""
    keras.utils.set_random_seed(0)
    images, labels = square_images(256, seed=0)
    model = build_classifier((SIZE, SIZE, 1), {**PAPER_ARCHITECTURE, "conv_filters": [8, 16]})
    model.fit(images[..., np.newaxis].astype(np.float32), labels, epochs=3, batch_size=32, verbose=0)
    return model
