"""Training of the CNN with early stopping on validation, its calibration and the decision threshold."""

import logging

import keras
import numpy as np

from ...classifier import build_classifier, choose_architecture, predict_probabilities
from ...classifier_training import TrainingBatches, cosine_learning_rate
from ...evaluation.calibration import apply_calibration, calibration_from_validation
from ...evaluation.metrics import roc_auc
from ...evaluation.thresholds import choose_threshold
from ...imaging.preprocess import as_model_input
from ...inference.predictor import PACKAGE_FORMAT_VERSION, Predictor

logger = logging.getLogger(__name__)



def train_classifier(
    balanced_train_set: dict,
    validation_set: dict,
    training: dict,
    preprocessing: dict,
    searched_architecture: dict | None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the CNN on augmented, normalised batches; stop early on a validation signal and keep
    the best epoch's weights. A balanced set with per-image ``weights`` (a class-weighted strategy)
    weights the training loss by them; validation is never weighted. The architecture is the
    search's (``searched_architecture``) when ``training.architecture_from`` is ``search``.

    Returns the model and its per-epoch history (``loss``, ``val_loss``, ``accuracy``, ``lr``, ...).
    """
    training = choose_architecture(training, searched_architecture)
    keras.utils.set_random_seed(training["seed"])
    intensity = preprocessing["intensity"]
    images = balanced_train_set["images"]
    batches = TrainingBatches(
        balanced_train_set,
        batch_size=training["batch_size"],
        images_per_epoch=training["images_per_epoch"] or len(images),
        augmentation=training["augmentation"],
        intensity=intensity,
        seed=training["seed"],
    )
    model = build_classifier((*images.shape[1:], 1), training["architecture"])
    stopping = training["early_stopping"]
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=stopping["monitor"],
            mode="min" if stopping["monitor"] == "val_loss" else "max",
            patience=stopping["patience"],
            restore_best_weights=True,
        )
    ]
    if training["learning_rate_schedule"] == "cosine":
        initial = training["architecture"]["learning_rate"]
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch: cosine_learning_rate(epoch, training["epochs"], initial)
            )
        )
    history = model.fit(
        batches,
        epochs=training["epochs"],
        validation_data=(
            as_model_input(validation_set["images"], intensity),
            validation_set["labels"].astype(np.float32),
        ),
        validation_batch_size=training["batch_size"],
        callbacks=callbacks,
        verbose=2,
    )
    return model, {name: [float(value) for value in values] for name, values in history.history.items()}


def fit_calibration(
    classifier: keras.Model, validation_set: dict, calibration_params: dict, inference: dict, preprocessing: dict
) -> dict:
    """Fit the probability calibration (``calibration.method``) on the validation set only.

    Returns the calibration ``apply_calibration`` reads (method, temperature) with the validation
    NLL / ECE / Brier score before and after it and both reliability curves.
    """
    probabilities = predict_probabilities(
        classifier, validation_set["images"], preprocessing["intensity"], inference["batch_size"]
    )
    return calibration_from_validation(validation_set["labels"], probabilities, calibration_params)


def select_decision_threshold(
    classifier: keras.Model,
    validation_set: dict,
    calibration: dict,
    threshold: dict,
    inference: dict,
    preprocessing: dict,
) -> dict:
    """Choose the decision threshold on the calibrated validation probabilities (never on test).

    ``youden`` maximises Youden's J = sensitivity + specificity - 1; ``fixed`` uses
    ``threshold.value``; ``sensitivity_target`` takes the highest threshold whose validation
    sensitivity is at least ``threshold.sensitivity_target``. An image is called positive when its
    calibrated probability is at or above the threshold. Returns the method, the threshold, the
    validation sensitivity and specificity at it and the validation ROC-AUC.
    """
    raw = predict_probabilities(
        classifier, validation_set["images"], preprocessing["intensity"], inference["batch_size"]
    )
    probabilities = apply_calibration(raw, calibration)
    chosen = choose_threshold(validation_set["labels"], probabilities, threshold)
    chosen["validation_roc_auc"] = roc_auc(validation_set["labels"], probabilities)
    logger.info(
        "Decision threshold %.4f (%s on %d calibrated validation probabilities: sensitivity %.3f, specificity %.3f).",
        chosen["threshold"],
        chosen["method"],
        len(probabilities),
        chosen["validation_sensitivity"],
        chosen["validation_specificity"],
    )
    return chosen


def package_predictor(
    classifier: keras.Model, calibration: dict, decision_threshold: dict, preprocessing: dict, classes: list[str]
) -> Predictor:
    """Bundle the classifier with what using it needs: the preprocessing it was trained with, the
    calibration and the decision threshold (both fitted on validation) and the class names."""
    return Predictor(
        classifier,
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": list(classes),
            "preprocessing": preprocessing,
            "calibration": {"method": calibration["method"], "temperature": calibration["temperature"]},
            "decision": decision_threshold,
            "validation": {"roc_auc": decision_threshold["validation_roc_auc"]},
        },
    )
