"""The CNN: its builder from parameters and its predictions on stored images. Used by training,
the search, the synthesis report and ``Predictor`` (through which everything else scores)."""

import keras
import numpy as np
from scipy.special import expit

from ..imaging.preprocess import as_model_input
from ..imaging.tta import tta_transforms, tta_views
from ..parameters import ARCHITECTURE_SOURCES, check_parameters
from .ensemble import logit_model


def build_classifier(input_shape: tuple[int, ...], architecture: dict) -> keras.Model:
    """Build and compile the CNN described by ``architecture``.

    Each entry of ``conv_filters`` is a Conv2D(relu) + MaxPooling2D block; with ``batch_norm``,
    BatchNormalization (moving-average ``batch_norm_momentum``) sits between consecutive blocks
    (the paper's layout). ``dense_units`` and ``dropout_rates`` (same length) add hidden
    Dense(relu) + Dropout layers before the sigmoid output. The model takes 0-255 pixels and
    rescales them to [0, 1] itself. It is compiled by ``compile_classifier``.
    """
    checked = check_parameters("training.architecture", architecture)
    dense_units, dropout_rates = architecture["dense_units"], architecture["dropout_rates"]
    kernel = architecture["kernel_size"]
    inputs = keras.Input(shape=input_shape, name="xray")
    features = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for index, filters in enumerate(architecture["conv_filters"]):
        if index > 0 and architecture["batch_norm"]:
            features = keras.layers.BatchNormalization(
                momentum=architecture["batch_norm_momentum"], name=f"batch_norm_{index}"
            )(features)
        features = keras.layers.Conv2D(
            filters, (kernel, kernel), activation="relu", name=f"conv_{index + 1}"
        )(features)
        features = keras.layers.MaxPooling2D(architecture["pool_size"], name=f"pool_{index + 1}")(
            features
        )
    features = keras.layers.Flatten(name="flatten")(features)
    for index, (units, rate) in enumerate(zip(dense_units, dropout_rates)):
        features = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(features)
        features = keras.layers.Dropout(rate, name=f"dropout_{index + 1}")(features)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia_probability")(features)
    model = keras.Model(inputs, outputs, name="pneumonia_cnn")
    compile_classifier(model, checked.learning_rate, checked.label_smoothing, checked.weight_decay)
    return model


def compile_classifier(model: keras.Model, learning_rate: float, label_smoothing: float, weight_decay: float) -> None:
    """Compile ``model`` for binary cross-entropy with ``label_smoothing`` (targets pulled towards
    0.5 by that share; 0 is plain cross-entropy), optimised by AdamW with decoupled ``weight_decay``
    when it is above 0, else by Adam."""
    optimizer = (
        keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
        if weight_decay > 0
        else keras.optimizers.Adam(learning_rate=learning_rate)
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )


def predict_probabilities(
    model: keras.Model, images: np.ndarray, intensity: dict, batch_size: int, tta: dict | None = None
) -> np.ndarray:
    """The model's probability of the positive class (the last of ``raw_data.classes``) per stored
    uint8 image, after the configured intensity normalisation.

    With test-time augmentation (``inference.tta`` transforms), sigmoid of the mean logit over the
    image and each of its views (``imaging.tta``); with none, the model's output as it is.
    """
    if not tta_transforms(tta):
        return model.predict(as_model_input(images, intensity), batch_size=batch_size, verbose=0).reshape(-1)
    logits = logit_model(model)
    mean_logit = np.mean(
        [logits.predict(as_model_input(view, intensity), batch_size=batch_size, verbose=0).reshape(-1) for view in tta_views(images, tta)],
        axis=0,
    )
    return expit(mean_logit).astype(np.float32)


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
