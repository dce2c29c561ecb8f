"""The model core on three classes: a softmax head in every family, categorical cross-entropy on
one-hot targets (mixup and distillation included), seed ensembles and test-time augmentation that
average logits, and the binary model unchanged."""

import keras
import numpy as np
import pytest
from scipy.special import softmax

from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier import build_classifier, predict_probabilities
from pediatric_pneumonia.models.classifier_training import (
    distillation_set,
    early_stopping,
    fit_classifier,
    mix_batch,
    training_targets,
)
from pediatric_pneumonia.models.ensemble import build_ensemble, logit_model
from pediatric_pneumonia.parameters import check_parameters
from tests.conftest import ONLINE_AUGMENTATION, PAPER_ARCHITECTURE, preprocessing_parameters

INTENSITY = preprocessing_parameters(intensity={"method": "none"}).intensity.plain()
TRAINING = check_parameters(
    "training",
    {
        "seed": 5,
        "epochs": 2,
        "batch_size": 16,
        "images_per_epoch": None,
        "learning_rate_schedule": "constant",
        "early_stopping": {"monitor": "val_loss", "patience": 2},
        "architecture": {**PAPER_ARCHITECTURE, "conv_filters": [4, 8]},
        "augmentation": ONLINE_AUGMENTATION,
    },
)


def three_class_set(count: int, size: int = 16, seed: int = 0) -> dict:
    """Dark NORMAL, mid-gray BACTERIA, bright VIRUS images (labels 0, 1, 2 in turn)."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1, 2], count // 3).astype(np.uint8)
    images = np.choose(labels, [50, 130, 210])[:, None, None] + rng.integers(-20, 20, (len(labels), size, size))
    return {"images": images.astype(np.uint8), "labels": labels, "paths": np.array([str(i) for i in range(len(labels))])}


@pytest.mark.parametrize("family", ["paper", "residual"])
def test_three_classes_get_a_softmax_head_and_categorical_cross_entropy(family):
    architecture = {**PAPER_ARCHITECTURE, "conv_filters": [4, 8], "family": family, **({"width": 4} if family == "residual" else {})}
    model = build_classifier((16, 16, 1), architecture, n_classes=3)
    binary = build_classifier((16, 16, 1), architecture)

    assert model.output_shape == (None, 3) and model.layers[-1].activation is keras.activations.softmax
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert binary.output_shape == (None, 1) and isinstance(binary.loss, keras.losses.BinaryCrossentropy)


def test_targets_are_one_hot_for_three_classes_and_as_they_are_for_two():
    np.testing.assert_array_equal(training_targets(np.array([2, 0, 1], np.uint8), 3), np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(training_targets(np.array([1, 0], np.uint8), 2), [1.0, 0.0])
    soft = np.array([[0.2, 0.3, 0.5]], np.float32)
    assert training_targets(soft, 3) is not soft and np.array_equal(training_targets(soft, 3), soft)


def test_mixup_blends_one_hot_targets_row_by_row():
    rng = np.random.default_rng(0)
    images = rng.random((6, 8, 8, 1)).astype(np.float32)
    targets = training_targets(np.array([0, 1, 2, 0, 1, 2]), 3)

    mixed, labels, _ = mix_batch(images, targets, None, {"method": "mixup", "alpha": 0.4}, np.random.default_rng(1))

    np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-6)
    partners = np.random.default_rng(1).permutation(6)
    share = np.random.default_rng(1)
    share.permutation(6)
    own = share.beta(0.4, 0.4, size=6).astype(np.float32)
    np.testing.assert_allclose(labels, own[:, None] * targets + (1 - own[:, None]) * targets[partners], atol=1e-6)


@pytest.fixture(scope="module")
def trained():
    return fit_classifier(three_class_set(48), three_class_set(24, seed=1), TRAINING, INTENSITY,
                          callbacks=[early_stopping(TRAINING.early_stopping)], verbose=0)


def test_a_three_class_model_trains_and_gives_a_probability_per_class(trained):
    model, history = trained
    probabilities = predict_probabilities(model, three_class_set(12, seed=2)["images"], INTENSITY, batch_size=8)

    assert model.output_shape == (None, 3) and len(history["loss"]) >= 1 and np.isfinite(history["val_loss"]).all()
    assert probabilities.shape == (12, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_an_ensemble_and_test_time_augmentation_average_the_logits_of_every_class(trained):
    first = trained[0]
    second = build_classifier((16, 16, 1), TRAINING.architecture, n_classes=3)
    images = three_class_set(9, seed=3)["images"]
    ensemble = build_ensemble([first, second])

    expected = softmax(
        np.mean([logit_model(member).predict(as_model_input(images, INTENSITY), verbose=0) for member in (first, second)], axis=0),
        axis=1,
    )
    np.testing.assert_allclose(predict_probabilities(ensemble, images, INTENSITY, batch_size=8), expected, atol=1e-5)
    tta = {"transforms": ["shift_left", "shift_right"], "shift_fraction": 0.05, "zoom": 0.05}
    augmented = predict_probabilities(first, images, INTENSITY, batch_size=8, tta=tta)
    assert augmented.shape == (9, 3)
    np.testing.assert_allclose(augmented.sum(axis=1), 1.0, atol=1e-5)


def test_distillation_targets_are_the_teachers_probability_of_every_class(trained):
    train_set = three_class_set(12, seed=4)

    targets = distillation_set(train_set, trained[0], INTENSITY, batch_size=8)

    assert targets["labels"].shape == (12, 3) and targets["labels"].dtype == np.float32
    assert training_targets(targets["labels"], 3).shape == (12, 3)
