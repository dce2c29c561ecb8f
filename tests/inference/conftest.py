"""A small real predictor (an untrained project CNN with a fixed seed), its package folder, and the
same predictor with a shift reference packaged by the training nodes."""

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.predictor import PACKAGE_FORMAT_VERSION
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.ensemble import build_ensemble
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.training.nodes import package_predictor, sample_shift_reference
from tests.conftest import PAPER_ARCHITECTURE

IMAGE_SIZE = 32
PREPROCESSING = {
    "image_size": IMAGE_SIZE,
    "workers": 1,
    "geometry": "stretch",
    "border_crop": 0.0,
    "intensity": {"method": "histogram_equalisation", "clahe_clip_limit": 2.0, "clahe_tile_grid": 8, "percentiles": [1, 99]},
}


def make_predictor(threshold: float = 0.5, temperature: float = 1.5) -> Predictor:
    """A predictor around a freshly initialised (seeded) CNN, as the training pipeline packages one."""
    keras.utils.set_random_seed(0)
    classifier = build_classifier((IMAGE_SIZE, IMAGE_SIZE, 1), PAPER_ARCHITECTURE)
    return Predictor(
        classifier,
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": ["NORMAL", "PNEUMONIA"],
            "preprocessing": PREPROCESSING,
            "calibration": {"method": "temperature", "temperature": temperature},
            "decision": {"method": "fixed", "threshold": threshold},
            "validation": {"roc_auc": 0.5},
        },
    )


def seeded_classifiers(count: int, size: int = IMAGE_SIZE) -> list[keras.Model]:
    """``count`` freshly initialised project CNNs, seeded 0, 1, ... (as ensemble members train)."""
    classifiers = []
    for seed in range(count):
        keras.utils.set_random_seed(seed)
        classifiers.append(build_classifier((size, size, 1), PAPER_ARCHITECTURE))
    return classifiers


def make_ensemble_predictor(members: int = 3) -> Predictor:
    """A predictor around a seed ensemble of ``members`` seeded CNNs."""
    return predictor_around(build_ensemble(seeded_classifiers(members)), PREPROCESSING["intensity"])


def predictor_around(
    classifier: keras.Model,
    intensity: dict,
    calibration: dict | None = None,
    threshold: float = 0.5,
    batch_size: int = 64,
    tta: dict | None = None,
) -> Predictor:
    """A predictor package around any small Keras model (square one-channel input), as the training
    pipeline packages one: the nodes that score take it instead of the raw model."""
    size = int(classifier.input_shape[1])
    return Predictor(
        classifier,
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": ["NORMAL", "PNEUMONIA"],
            "preprocessing": {**PREPROCESSING, "image_size": size, "intensity": intensity},
            "calibration": calibration or {"method": "none", "temperature": 1.0},
            "decision": {"method": "fixed", "threshold": threshold},
            "inference": {"batch_size": batch_size, "tta": tta},
        },
    )


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    return make_predictor()


@pytest.fixture(scope="session")
def predictor_package(tmp_path_factory, predictor) -> str:
    """The predictor saved as a package folder (classifier.keras + predictor.json)."""
    folder = tmp_path_factory.mktemp("package") / "predictor"
    predictor.save(folder)
    return str(folder)


SHIFT_SETTINGS = {
    "reference_size": 60,
    "seed": 0,
    "permutations": 199,
    "alpha": 0.05,
    "max_images": 200,
    "neighbours": 5,
    "warning_percentile": 99.0,
}


def smooth_images(count: int, seed: int, size: int = IMAGE_SIZE) -> np.ndarray:
    """Stored-like (N, size, size) uint8 images: smooth random structure, different per seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (count, 4, 4)).astype(np.float32)
    return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC) for image in small]).clip(0, 255).astype(np.uint8)


def with_shift_reference(predictor: Predictor, validation_images: np.ndarray, shift: dict = SHIFT_SETTINGS) -> Predictor:
    """``predictor`` repackaged by the training nodes with a shift reference taken from
    ``validation_images`` (their labels do not matter to it)."""
    validation_set = {"images": validation_images, "labels": np.zeros(len(validation_images), np.uint8)}
    inference = check_parameters("inference", {"batch_size": predictor.batch_size, "tta": predictor.tta or {}})
    shift = check_parameters("shift", shift)
    preprocessing = check_parameters("preprocessing", predictor.preprocessing)
    validation_predictions = pd.DataFrame({"raw_probability": predictor.raw_probabilities(validation_images)})
    reference = sample_shift_reference(
        predictor.classifier, validation_set, validation_predictions, predictor.classes, predictor.config["calibration"],
        preprocessing, inference, shift,
    )
    decision = {**predictor.config["decision"], "validation_roc_auc": 0.5}
    return package_predictor(
        predictor.classifier, predictor.config["calibration"], decision, preprocessing,
        inference, predictor.classes, reference, shift,
    )


@pytest.fixture(scope="session")
def referenced_predictor(predictor) -> Predictor:
    """The session predictor with a shift reference of 60 smooth images."""
    return with_shift_reference(predictor, smooth_images(60, seed=100))
