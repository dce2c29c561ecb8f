import keras
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.evaluation.calibration import apply_calibration
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.classifier_training import TrainingBatches
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.training.nodes import (
    fit_calibration,
    package_predictor,
    sample_shift_reference,
    score_validation_set,
    select_decision_threshold,
    train_classifier,
)
from pediatric_pneumonia.tracking import to_mlflow_history
from tests.conftest import ONLINE_AUGMENTATION, PAPER_ARCHITECTURE
from tests.pipelines.reporting.tiny_model import expected_probability, flat_images, mean_gray_model


def separable_set(count: int, size: int = 16, seed: int = 0) -> dict:
    """Bright images are pneumonia, dark ones normal: a CNN learns it in a couple of epochs."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], count // 2).astype(np.uint8)
    images = np.where(labels[:, None, None] == 1, 190, 60) + rng.integers(-30, 30, (count, size, size))
    return {"images": images.astype(np.uint8), "labels": labels, "paths": np.array([str(i) for i in range(count)])}


# The signal of separable_set is brightness, which intensity normalisation would remove.
PREPROCESSING = {"intensity": {"method": "none"}}
TRAINING = {
    "seed": 3,
    "epochs": 3,
    "batch_size": 16,
    "images_per_epoch": None,
    "learning_rate_schedule": "cosine",
    "early_stopping": {"monitor": "val_loss", "patience": 2},
    "architecture": {**PAPER_ARCHITECTURE, "conv_filters": [4, 8]},
    "augmentation": {**ONLINE_AUGMENTATION, "brightness": 0.02},
}


def test_training_returns_a_model_and_per_epoch_history():
    model, history = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING, None)

    assert isinstance(model, keras.Model)
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"}
    assert all(len(values) == len(history["loss"]) for values in history.values())
    assert 1 <= len(history["loss"]) <= 3
    assert history["learning_rate"][0] == pytest.approx(0.001)
    assert history["learning_rate"][1] == pytest.approx(0.001 * 0.5 * (1 + np.cos(np.pi / 3)))


def test_training_is_reproducible_with_a_seed():
    first = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING, None)[1]
    second = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING, None)[1]
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-5)


def test_images_per_epoch_sets_the_steps_whatever_the_set_size():
    batches = TrainingBatches(separable_set(200), 16, 48, ONLINE_AUGMENTATION, PREPROCESSING["intensity"], seed=0)
    assert len(batches) == 3
    seen = np.concatenate([batches[index][1] for index in range(len(batches))])
    assert len(seen) == 48


def test_every_image_is_drawn_before_any_repeats():
    batches = TrainingBatches(separable_set(40), 8, 100, ONLINE_AUGMENTATION, PREPROCESSING["intensity"], seed=0)
    assert sorted(batches.order[:40]) == list(range(40))
    first_epoch = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_epoch, batches.order)


def test_batches_carry_the_weights_of_a_class_weighted_set_only():
    unweighted = TrainingBatches(separable_set(40), 8, 16, ONLINE_AUGMENTATION, PREPROCESSING["intensity"], seed=0)
    weighted_set = {**separable_set(40), "weights": np.linspace(0.5, 1.5, 40)}
    weighted = TrainingBatches(weighted_set, 8, 16, ONLINE_AUGMENTATION, PREPROCESSING["intensity"], seed=0)

    assert len(unweighted[0]) == 2
    images, labels, weights = weighted[0]
    np.testing.assert_array_equal(images, unweighted[0][0])
    np.testing.assert_array_equal(labels, unweighted[0][1])
    np.testing.assert_allclose(weights, weighted_set["weights"][weighted.order[:8]])


def test_per_image_weights_change_the_training_loss():
    training = {**TRAINING, "epochs": 1}
    plain = train_classifier(separable_set(32), separable_set(16, seed=1), training, PREPROCESSING, None)[1]
    weighted_set = {**separable_set(32), "weights": np.tile([1.8, 0.2], 16).astype(np.float32)}
    weighted = train_classifier(weighted_set, separable_set(16, seed=1), training, PREPROCESSING, None)[1]
    assert weighted["loss"][0] != pytest.approx(plain["loss"][0], rel=1e-3)
    assert weighted["val_loss"][0] > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images_per_epoch": 0}, "images_per_epoch"),
        ({"learning_rate_schedule": "step"}, "learning_rate_schedule"),
        ({"early_stopping": {"monitor": "val_f1", "patience": 2}}, "early_stopping.monitor"),
        ({"augmentation": {**ONLINE_AUGMENTATION, "contrast": 1.5}}, "contrast"),
    ],
)
def test_unusable_training_parameters_are_refused_with_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("training", {**TRAINING, **change})


def brightness_set(negative_levels: list[int], positive_levels: list[int]) -> dict:
    """Flat 4x4 images; ``mean_gray_model`` gives them sigmoid(8 x level / 255 - 4)."""
    levels = negative_levels + positive_levels
    return {
        "images": flat_images(levels),
        "labels": np.array([0] * len(negative_levels) + [1] * len(positive_levels), dtype=np.uint8),
        "paths": np.array([f"{index}.jpeg" for index in range(len(levels))]),
    }


# Raw probabilities 0.06, 0.30 (normal) and 0.67, 0.84, 0.96 (pneumonia); at temperature 3 they
# become 0.29, 0.43 and 0.56, 0.63, 0.75.
SEPARABLE = brightness_set([40, 100], [150, 180, 230])
UNCHANGED = {"method": "none", "temperature": 1.0}
SOFTENED = {"method": "temperature", "temperature": 3.0}


def scored(validation_set: dict) -> pd.DataFrame:
    return score_validation_set(mean_gray_model(), validation_set, PREPROCESSING, {"batch_size": 8})


def threshold_of(calibration: dict, threshold: dict, validation_set: dict = SEPARABLE) -> dict:
    return select_decision_threshold(scored(validation_set), calibration, threshold)


def test_validation_is_scored_once_with_its_paths_and_raw_probabilities():
    frame = scored(SEPARABLE)
    assert frame["path"].tolist() == SEPARABLE["paths"].tolist()
    assert frame["target"].tolist() == [0, 0, 1, 1, 1]
    assert frame["raw_probability"].to_numpy() == pytest.approx(expected_probability([40, 100, 150, 180, 230]), abs=1e-6)


def test_the_threshold_is_judged_on_calibrated_validation_probabilities():
    fixed = {"method": "fixed", "value": 0.6}
    assert threshold_of(UNCHANGED, fixed)["validation_sensitivity"] == 1.0
    softened = threshold_of(SOFTENED, fixed)
    assert softened == {
        "method": "fixed",
        "threshold": 0.6,
        "validation_sensitivity": pytest.approx(2 / 3),
        "validation_specificity": 1.0,
        "validation_roc_auc": 1.0,
    }


def test_youden_threshold_lies_on_the_calibrated_scale():
    raw_lowest_positive = expected_probability([150])
    chosen = threshold_of(SOFTENED, {"method": "youden"})
    assert chosen["threshold"] == pytest.approx(float(apply_calibration(raw_lowest_positive, SOFTENED)[0]), abs=1e-6)
    assert chosen["threshold"] < 0.6 < raw_lowest_positive[0]
    assert (chosen["validation_sensitivity"], chosen["validation_specificity"]) == (1.0, 1.0)


def test_sensitivity_target_node_keeps_the_target_on_validation():
    chosen = threshold_of(UNCHANGED, {"method": "sensitivity_target", "sensitivity_target": 0.6})
    assert chosen["threshold"] == pytest.approx(float(expected_probability([180])[0]), abs=1e-6)
    assert chosen["validation_sensitivity"] == pytest.approx(2 / 3)


def test_one_class_validation_stops_calibration_and_threshold():
    only_pneumonia = brightness_set([], [150, 180, 230])
    with pytest.raises(ValueError, match="both classes"):
        fit_calibration(scored(only_pneumonia), {"method": "temperature", "bins": 5})
    with pytest.raises(ValueError, match="both classes"):
        threshold_of(UNCHANGED, {"method": "fixed", "value": 0.5}, only_pneumonia)


def test_calibration_node_softens_an_overconfident_model():
    # Confident and half wrong: the likelihood is best with probabilities pulled towards 0.5.
    confidently_wrong = brightness_set([30, 225, 40], [225, 30, 220])
    calibration = fit_calibration(scored(confidently_wrong), {"method": "temperature", "bins": 5})
    assert calibration["method"] == "temperature"
    assert calibration["temperature"] > 3
    assert calibration["validation_nll_after"] < calibration["validation_nll_before"]


def test_history_in_mlflow_format_has_one_step_per_epoch():
    tracked = to_mlflow_history({"loss": [0.7, 0.5]})
    assert tracked == {"loss": [{"value": 0.7, "step": 0}, {"value": 0.5, "step": 1}]}


SHIFT = {"reference_size": 6, "seed": 1, "permutations": 99, "alpha": 0.05, "max_images": 100, "neighbours": 5, "warning_percentile": 99.0}


def test_the_shift_reference_is_a_seeded_validation_sample_with_its_calibrated_probabilities():
    classifier = build_classifier((16, 16, 1), TRAINING["architecture"])
    validation_set = separable_set(10, seed=4)
    predictions = score_validation_set(classifier, validation_set, PREPROCESSING, {"batch_size": 8})
    calibration = {"method": "temperature", "temperature": 2.0}

    reference = sample_shift_reference(classifier, validation_set, predictions, calibration, PREPROCESSING, {"batch_size": 8}, SHIFT)
    again = sample_shift_reference(classifier, validation_set, predictions, calibration, PREPROCESSING, {"batch_size": 8}, SHIFT)
    decision, packaged = {"method": "fixed", "threshold": 0.5, "validation_roc_auc": 0.9}, {**PREPROCESSING, "image_size": 16}
    predictor = package_predictor(
        classifier, calibration, decision, packaged, {"batch_size": 8}, ["NORMAL", "PNEUMONIA"], reference, SHIFT
    )

    assert reference["features"].shape == (6, 8) and str(reference["feature_layer"]) == "pool_2"
    np.testing.assert_array_equal(reference["features"], again["features"])
    calibrated = apply_calibration(predictions["raw_probability"].to_numpy(), calibration)
    assert all(np.isclose(calibrated, value).any() for value in reference["probabilities"])
    recorded = predictor.config["shift_reference"]
    assert recorded["count"] == 6 and recorded["settings"]["neighbours"] == 5 and "reference_size" not in recorded["settings"]
    capped = package_predictor(
        classifier, calibration, decision, packaged, {"batch_size": 8}, ["NORMAL", "PNEUMONIA"], reference, {**SHIFT, "neighbours": 50}
    )
    assert capped.config["shift_reference"]["settings"]["neighbours"] == 5  # below the reference's 6 images
