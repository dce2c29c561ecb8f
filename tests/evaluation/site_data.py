"""Tiny labelled sets of a "new site": flat gray PNGs in the NORMAL/PNEUMONIA layout, public-style
names, so the mean-gray model of tests/pipelines/reporting/tiny_model.py gives known probabilities."""

from pathlib import Path

import cv2
import numpy as np

from pediatric_pneumonia.parameters import check_parameters
from tests.inference.conftest import predictor_around
from tests.pipelines.reporting.tiny_model import INTENSITY, mean_gray_model

REPORTING = check_parameters(
    "reporting", {"bootstrap_resamples": 50, "bootstrap_seed": 0, "confidence_level": 0.95, "patient_aggregation": "mean"}
)
# Normal images darker than pneumonia ones, with an overlap the base threshold 0.5 gets wrong:
# every level from 60 up is pneumonia, so the best threshold is the probability of level 60.
NORMAL_LEVELS = [10, 20, 30, 40, 50]
PNEUMONIA_LEVELS = [60, 70, 110, 150, 200, 230]


def write_flat_png(path: Path, level: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8), level, dtype=np.uint8))
    return path


def make_site(root: Path, normal: list[int] = NORMAL_LEVELS, pneumonia: list[int] = PNEUMONIA_LEVELS) -> Path:
    """A site folder: NORMAL/IM-000N-0001.png and PNEUMONIA/personN_bacteria_N.png, one gray level each."""
    for index, level in enumerate(normal):
        write_flat_png(root / "NORMAL" / f"IM-{index + 1:04d}-0001.png", level)
    for index, level in enumerate(pneumonia):
        write_flat_png(root / "PNEUMONIA" / f"person{index + 1}_bacteria_{index + 1}.png", level)
    return root


def gray_predictor(threshold: float = 0.5, temperature: float = 1.0):
    """A predictor whose raw probability is sigmoid(8 x mean / 255 - 4)."""
    return predictor_around(mean_gray_model(), INTENSITY, {"method": "temperature", "temperature": temperature}, threshold)
