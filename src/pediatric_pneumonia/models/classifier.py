"""The CNN: its builder from parameters and its predictions on stored images. Used by training,
the search, the synthesis report and ``Predictor`` (through which everything else scores)."""

import keras
import numpy as np

from ..imaging.preprocess import as_model_input
from ..parameters import ARCHITECTURE_SOURCES, check_image_side, check_parameters
from .architectures import build_network


def build_classifier(input_shape: tuple[int, ...], architecture: dict) -> keras.Model:
    """Build and compile the classifier described by ``architecture`` (its ``family``, default
    ``paper``: models/architectures.py) for images of ``input_shape``.

    The paper family: each entry of ``conv_filters`` is a Conv2D(relu) + MaxPooling2D block; with
    ``batch_norm``, BatchNormalization (moving-average ``batch_norm_momentum``) sits between
    consecutive blocks (the paper's layout). ``dense_units`` and ``dropout_rates`` (same length) add
    hidden Dense(relu) + Dropout layers before the sigmoid output, in every family. The model takes
    0-255 pixels and rescales them to [0, 1] itself.
    """
    architecture = check_parameters("training.architecture", architecture).model_dump()
    check_image_side(architecture, min(input_shape[:2]))
    model = build_network(input_shape, architecture)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=architecture["learning_rate"]),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    return model


def predict_probabilities(model: keras.Model, images: np.ndarray, intensity: dict, batch_size: int) -> np.ndarray:
    """The model's probability of the positive class (the last of ``raw_data.classes``) per stored
    uint8 image, after the configured intensity normalisation."""
    return model.predict(as_model_input(images, intensity), batch_size=batch_size, verbose=0).reshape(-1)


def choose_architecture(training: dict, searched_architecture: dict | None) -> dict:
    """The training parameters with ``architecture`` taken from the search when
    ``training.architecture_from`` is ``search`` (default ``parameters``: unchanged)."""
    source = training.get("architecture_from", "parameters")
    if source not in ARCHITECTURE_SOURCES:
        raise ValueError(f"Unknown training.architecture_from '{source}'. Use one of {ARCHITECTURE_SOURCES}.")
    if source == "parameters":
        return training
    if searched_architecture is None:
        raise FileNotFoundError(
            "training.architecture_from is 'search' but no search has written data/06_models/search/architecture.yml: "
            "run `kedro run --pipeline search` first, or set training.architecture_from: parameters."
        )
    return {**training, "architecture": searched_architecture["architecture"]}
