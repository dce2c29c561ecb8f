"""The CNN: its builder from parameters and its predictions on stored images. Used by training,
the search, the synthesis report and ``Predictor`` (through which everything else scores)."""

import keras
import numpy as np
from scipy.special import expit, softmax

from ..imaging.preprocess import as_model_input
from ..imaging.tta import tta_transforms, tta_views
from ..parameters import Architecture, Training, check_image_side, check_parameters
from .architectures import build_network
from .ensemble import logit_model
from .outputs import model_outputs


def build_classifier(input_shape: tuple[int, ...], architecture: Architecture | dict, n_classes: int = 2) -> keras.Model:
    """Build and compile the classifier described by ``architecture`` (its ``family``, default
    ``paper``: models/architectures.py) for images of ``input_shape`` and ``n_classes`` classes
    (a sigmoid output for two, a softmax for more).

    The paper family: each entry of ``conv_filters`` is a Conv2D(relu) + MaxPooling2D block; with
    ``batch_norm``, BatchNormalization (moving-average ``batch_norm_momentum``) sits between
    consecutive blocks (the paper's layout). ``dense_units`` and ``dropout_rates`` (same length) add
    hidden Dense(relu) + Dropout layers before the sigmoid output, in every family. The model takes
    0-255 pixels and rescales them to [0, 1] itself. It is compiled by ``compile_classifier``.
    """
    if not isinstance(architecture, Architecture):
        architecture = check_parameters("training.architecture", architecture)
    check_image_side(architecture, min(input_shape[:2]))
    model = build_network(input_shape, architecture.plain(), n_classes)
    compile_classifier(model, architecture.learning_rate, architecture.label_smoothing, architecture.weight_decay)
    return model


def compile_classifier(model: keras.Model, learning_rate: float, label_smoothing: float, weight_decay: float) -> None:
    """Compile ``model`` for cross-entropy with ``label_smoothing`` (targets pulled towards the
    uniform distribution by that share; 0 is plain cross-entropy): binary for a one-unit output,
    categorical on one-hot targets for a softmax. Optimised by AdamW with decoupled
    ``weight_decay`` when it is above 0, else by Adam."""
    optimizer = (
        keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
        if weight_decay > 0
        else keras.optimizers.Adam(learning_rate=learning_rate)
    )
    loss = (
        keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
        if model.output_shape[-1] == 1
        else keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    )
    # On one-hot targets AUC is micro-averaged over the classes (validation.auc, early stopping's val_auc).
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy", keras.metrics.AUC(name="auc")])


def predict_probabilities(
    model: keras.Model, images: np.ndarray, intensity: dict, batch_size: int, tta: dict | None = None
) -> np.ndarray:
    """The model's probability of the positive class (the last of ``raw_data.classes``) per stored
    uint8 image, shape (N,), after the configured intensity normalisation; of every class, shape
    (N, K), for a model of K > 2 classes.

    With test-time augmentation (``inference.tta`` transforms), sigmoid (softmax) of the mean logit
    over the image and each of its views (``imaging.tta``); with none, the model's output as it is.
    """
    if not tta_transforms(tta):
        return squeezed(model_outputs(model, as_model_input(images, intensity), batch_size))
    logits = logit_model(model)
    mean_logit = np.mean(
        [model_outputs(logits, as_model_input(view, intensity), batch_size) for view in tta_views(images, tta)], axis=0
    )
    probabilities = expit(mean_logit) if mean_logit.shape[-1] == 1 else softmax(mean_logit, axis=-1)
    return squeezed(probabilities.astype(np.float32))


def squeezed(outputs: np.ndarray) -> np.ndarray:
    """A model's (N, 1) outputs as (N,); (N, K) ones as they are."""
    return outputs.reshape(-1) if outputs.shape[-1] == 1 else outputs


def choose_architecture(training: Training, searched_architecture: dict | None) -> Training:
    """The training parameters with ``architecture`` taken from the search when
    ``training.architecture_from`` is ``search`` (``parameters``: unchanged)."""
    if training.architecture_from == "parameters":
        return training
    if searched_architecture is None:
        raise FileNotFoundError(
            "training.architecture_from is 'search' but no search has written data/06_models/search/architecture.yml: "
            "run `kedro run --pipeline search` first, or set training.architecture_from: parameters."
        )
    searched = check_parameters("training.architecture", searched_architecture["architecture"])
    return training.model_copy(update={"architecture": searched})
