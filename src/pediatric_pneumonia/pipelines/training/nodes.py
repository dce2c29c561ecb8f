"""The paper's CNN, its training with early stopping on validation, and the decision threshold."""

import logging

import keras
import numpy as np
from sklearn.metrics import roc_curve

logger = logging.getLogger(__name__)

THRESHOLD_METHODS = ("youden", "fixed")


def check_architecture(architecture: dict) -> None:
    """Raise a ValueError naming the fix if the CNN cannot be built from ``architecture``."""
    dense_units, dropout_rates = architecture["dense_units"], architecture["dropout_rates"]
    if len(dense_units) != len(dropout_rates):
        raise ValueError(
            f"training.architecture.dense_units {dense_units} and dropout_rates {dropout_rates} "
            "must have the same length (one dropout rate per dense layer)."
        )
    if not architecture["conv_filters"]:
        raise ValueError("training.architecture.conv_filters is empty: give at least one conv block.")


def check_training_parameters(training: dict) -> None:
    """Raise a ValueError naming the fix if the training parameters are unusable."""
    check_architecture(training["architecture"])
    for name in ("epochs", "batch_size"):
        if not isinstance(training[name], int) or training[name] < 1:
            raise ValueError(f"training.{name} must be a positive integer, got {training[name]!r}.")


def check_threshold_parameters(threshold: dict) -> None:
    """Raise a ValueError naming the fix if the threshold method is unknown."""
    if threshold["method"] not in THRESHOLD_METHODS:
        raise ValueError(
            f"Unknown threshold method '{threshold['method']}'. Use one of {THRESHOLD_METHODS} in "
            "conf/base/parameters_training.yml (threshold.method)."
        )


def build_classifier(input_shape: tuple[int, ...], architecture: dict) -> keras.Model:
    """Build and compile the CNN described by ``architecture``.

    Each entry of ``conv_filters`` is a Conv2D(relu) + MaxPooling2D block; with ``batch_norm``,
    BatchNormalization sits between consecutive blocks (the paper's layout). ``dense_units`` and
    ``dropout_rates`` (same length) add hidden Dense(relu) + Dropout layers before the sigmoid
    output. The model takes raw 0-255 pixels and rescales them to [0, 1] itself, so whoever
    calls it never has to repeat the preprocessing.
    """
    check_architecture(architecture)
    dense_units, dropout_rates = architecture["dense_units"], architecture["dropout_rates"]
    kernel = architecture["kernel_size"]
    inputs = keras.Input(shape=input_shape, name="xray")
    features = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for index, filters in enumerate(architecture["conv_filters"]):
        if index > 0 and architecture["batch_norm"]:
            features = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(features)
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
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=architecture["learning_rate"]),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    return model


def as_model_input(images: np.ndarray) -> np.ndarray:
    """Add the channel axis the CNN expects: (N, H, W) uint8 -> (N, H, W, 1) float32 in 0-255."""
    return images[..., np.newaxis].astype(np.float32)


def train_classifier(
    balanced_train_set: dict, validation_set: dict, training: dict
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the CNN, stopping early on validation loss and keeping the best epoch's weights.

    Returns the model and its per-epoch history (``loss``, ``val_loss``, ``accuracy``, ...).
    """
    check_training_parameters(training)
    keras.utils.set_random_seed(training["seed"])
    train_images = as_model_input(balanced_train_set["images"])
    model = build_classifier(train_images.shape[1:], training["architecture"])
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=training["early_stopping_patience"],
        restore_best_weights=True,
    )
    history = model.fit(
        train_images,
        balanced_train_set["labels"].astype(np.float32),
        batch_size=training["batch_size"],
        epochs=training["epochs"],
        validation_data=(
            as_model_input(validation_set["images"]),
            validation_set["labels"].astype(np.float32),
        ),
        shuffle=True,
        callbacks=[early_stopping],
        verbose=2,
    )
    return model, {name: [float(value) for value in values] for name, values in history.history.items()}


def to_mlflow_history(history: dict[str, list[float]]) -> dict[str, list[dict[str, float]]]:
    """A Keras training history in kedro-mlflow's metrics format, one step per epoch."""
    return {
        name: [{"value": value, "step": epoch} for epoch, value in enumerate(values)]
        for name, values in history.items()
    }


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's probability of the positive class (the last of ``raw_data.classes``) per image."""
    return model.predict(as_model_input(images), batch_size=batch_size, verbose=0).reshape(-1)


def select_decision_threshold(
    classifier: keras.Model, validation_set: dict, threshold: dict, inference: dict
) -> dict:
    """Choose the decision threshold on the validation set only (never on test).

    ``youden`` maximises Youden's J = sensitivity + specificity - 1 over the validation ROC
    curve; ``fixed`` uses ``threshold.value``. An image is called positive when its probability
    is at or above the threshold.
    """
    check_threshold_parameters(threshold)
    method = threshold["method"]
    if method == "fixed":
        return {"threshold": float(threshold["value"]), "method": method}
    probabilities = predict_probabilities(classifier, validation_set["images"], inference["batch_size"])
    chosen, sensitivity, specificity = youden_threshold(validation_set["labels"], probabilities)
    logger.info(
        "Decision threshold %.4f (Youden's J on %d validation images: sensitivity %.3f, specificity %.3f).",
        chosen,
        len(probabilities),
        sensitivity,
        specificity,
    )
    return {
        "threshold": chosen,
        "method": method,
        "validation_sensitivity": sensitivity,
        "validation_specificity": specificity,
    }


def youden_threshold(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float, float]:
    """The cut-off maximising sensitivity + specificity - 1, with that sensitivity and specificity."""
    false_positive_rate, true_positive_rate, cut_offs = roc_curve(labels, probabilities)
    best = int(np.argmax(true_positive_rate - false_positive_rate))
    chosen = float(min(cut_offs[best], 1.0))  # roc_curve's first cut-off is +inf
    return chosen, float(true_positive_rate[best]), float(1 - false_positive_rate[best])
