"""Training of the CNN with early stopping on validation, its calibration and the decision threshold."""

import logging

import keras
import numpy as np
import pandas as pd

from ...evaluation.calibration import apply_calibration, calibration_from_validation
from ...evaluation.frames import probabilities_of, with_probabilities
from ...evaluation.thresholds import choose_decision
from ...inference import Predictor
from ...inference.package import PACKAGE_FORMAT_VERSION, REFERENCE_FILE
from ...models.architectures import feature_map_layer_name
from ...models.classifier import choose_architecture, predict_probabilities
from ...models.classifier_training import distillation_set, early_stopping, fit_classifier
from ...models.ensemble import build_ensemble, ensemble_members
from ...models.features import embed, feature_extractor
from ...parameters import Calibration, Inference, Preprocessing, Shift, Threshold, Training

logger = logging.getLogger(__name__)


def train_classifier(
    balanced_train_set: dict,
    validation_set: dict,
    training: Training,
    preprocessing: Preprocessing,
    searched_architecture: dict | None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the CNN on augmented, normalised batches; stop early on a validation signal and keep
    the best epoch's weights. A balanced set with per-image ``weights`` (a class-weighted strategy)
    weights the training loss by them; validation is never weighted. The architecture is the
    search's (``searched_architecture``) when ``training.architecture_from`` is ``search``.

    With ``training.ensemble.members`` N > 1, N members train on the same data with seeds
    ``training.seed + i`` (member 0 is the single model) and are returned as one seed ensemble
    (``models.ensemble``). With ``training.ensemble.distill`` they are teachers instead: one more
    network (seed ``training.seed + N``) trains on the same augmented batches against their mean
    probability of each training image, and it alone is returned.

    Returns the model and its per-epoch history (``loss``, ``val_loss``, ``accuracy``, ``lr``, ...:
    member 0's, or the student's; member i's under ``member_<i>.loss``, ...).
    """
    training = choose_architecture(training, searched_architecture)
    intensity = preprocessing.intensity.plain()

    def fit(train_set: dict, seed: int) -> tuple[keras.Model, dict[str, list[float]]]:
        return fit_classifier(
            train_set,
            validation_set,
            training.model_copy(update={"seed": seed}),
            intensity,
            callbacks=[early_stopping(training.early_stopping)],
        )

    members, history = [], {}
    distill = training.ensemble.distill and training.ensemble.members > 1
    for index in range(training.ensemble.members):
        member, member_history = fit(balanced_train_set, training.seed + index)
        members.append(member)
        prefix = f"member_{index}." if index or distill else ""
        history |= {f"{prefix}{name}": values for name, values in member_history.items()}
    if not distill:
        return build_ensemble(members), history
    soft_targets = distillation_set(balanced_train_set, build_ensemble(members), intensity, training.batch_size)
    student, student_history = fit(soft_targets, training.seed + training.ensemble.members)
    logger.info("Distilled %d teachers into one network.", len(members))
    return student, history | student_history


def score_validation_set(
    classifier: keras.Model, validation_set: dict, classes: list[str], preprocessing: Preprocessing, inference: Inference
) -> pd.DataFrame:
    """One row per validation image: path, target and the model's uncalibrated probabilities
    (``raw_probability``, or one column per class: ``evaluation.frames``), scored once (by the
    function ``Predictor`` scores with, test-time augmentation included) for the calibration and
    the decision."""
    frame = pd.DataFrame({"path": validation_set["paths"], "target": validation_set["labels"].astype(int)})
    probabilities = predict_probabilities(
        classifier, validation_set["images"], preprocessing.intensity.plain(), inference.batch_size, inference.tta.plain()
    )
    return with_probabilities(frame, "raw_probability", probabilities, classes)


def fit_calibration(validation_predictions: pd.DataFrame, classes: list[str], calibration_params: Calibration) -> dict:
    """Fit the probability calibration (``calibration.method``) on the validation set only.

    Returns the calibration ``apply_calibration`` reads (method, temperature) with the validation
    NLL / ECE / Brier score before and after it and both reliability curves.
    """
    return calibration_from_validation(
        validation_predictions["target"].to_numpy(),
        probabilities_of(validation_predictions, "raw_probability", classes),
        calibration_params,
    )


def select_decision_threshold(
    validation_predictions: pd.DataFrame, classes: list[str], calibration: dict, threshold: Threshold
) -> dict:
    """Choose the decision on the calibrated validation probabilities (never on test):
    ``evaluation.thresholds.choose_decision``.

    ``youden`` maximises Youden's J = sensitivity + specificity - 1; ``fixed`` uses
    ``threshold.value``; ``sensitivity_target`` takes the highest threshold whose validation
    sensitivity is at least ``threshold.sensitivity_target``. An image is called positive when its
    calibrated probability (of pneumonia, for K classes) is at or above the threshold. Returns the
    method, the threshold, the validation sensitivity and specificity at it and the validation
    ROC-AUC; for K classes also the argmax rule, its validation accuracy and macro ROC-AUC.
    """
    targets = validation_predictions["target"].to_numpy()
    probabilities = apply_calibration(probabilities_of(validation_predictions, "raw_probability", classes), calibration)
    chosen = choose_decision(targets, probabilities, threshold)
    logger.info(
        "Decision threshold %.4f (%s on %d calibrated validation probabilities: sensitivity %.3f, specificity %.3f).",
        chosen["threshold"],
        chosen["method"],
        len(probabilities),
        chosen["validation_sensitivity"],
        chosen["validation_specificity"],
    )
    return chosen


def sample_shift_reference(
    classifier: keras.Model,
    validation_set: dict,
    validation_predictions: pd.DataFrame,
    classes: list[str],
    calibration: dict,
    preprocessing: Preprocessing,
    inference: Inference,
    shift: Shift,
) -> dict[str, np.ndarray]:
    """The shift reference the package carries: for a seeded sample of up to
    ``shift.reference_size`` validation images, the model's pooled last feature map
    (``features``, float32) and the calibrated probability (``probabilities``), with the name of the
    layer the features come from (``feature_layer``)."""
    images = validation_set["images"]
    chosen = np.sort(np.random.default_rng(shift.seed).choice(len(images), min(shift.reference_size, len(images)), replace=False))
    layer = feature_map_layer_name(ensemble_members(classifier)[0])
    features = embed(feature_extractor(classifier, layer), images[chosen], preprocessing.intensity.plain(), inference.batch_size)
    raw = probabilities_of(validation_predictions, "raw_probability", classes)[chosen]
    return {
        "features": features.astype(np.float32),
        "probabilities": np.asarray(apply_calibration(raw, calibration), dtype=np.float64),
        "feature_layer": np.array(layer),
    }


def package_predictor(
    classifier: keras.Model,
    calibration: dict,
    decision_threshold: dict,
    preprocessing: Preprocessing,
    inference: Inference,
    classes: list[str],
    shift_reference: dict[str, np.ndarray],
    shift: Shift,
) -> Predictor:
    """Bundle the classifier with what using it needs: the preprocessing it was trained with, the
    calibration and the decision threshold (both fitted on validation), the class names, the
    batch size and the test-time augmentation it scores with, and the shift reference with the shift
    check's settings (``k`` capped below the reference's size). Every later node scores with this object."""
    count = len(shift_reference["features"])
    settings = shift.model_dump(mode="json", exclude={"reference_size"})
    return Predictor(
        classifier,
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": list(classes),
            "preprocessing": preprocessing.plain(),
            "calibration": {"method": calibration["method"], "temperature": calibration["temperature"]},
            "decision": decision_threshold,
            "inference": inference.plain(),
            "validation": {"roc_auc": decision_threshold["validation_roc_auc"]},
            "shift_reference": {
                "file": REFERENCE_FILE,
                "source": "validation",
                "count": count,
                "feature_layer": str(shift_reference["feature_layer"]),
                "settings": {**settings, "neighbours": min(shift.neighbours, count - 1)},
            },
        },
        shift_reference={name: shift_reference[name] for name in ("features", "probabilities")},
    )
