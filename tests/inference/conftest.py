"""A small real predictor (an untrained project CNN with a fixed seed) and its package folder."""

import keras
import pytest

from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.predictor import PACKAGE_FORMAT_VERSION
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.ensemble import build_ensemble
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
