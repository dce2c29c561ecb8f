import keras
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from pediatric_pneumonia.evaluation.calibration import apply_calibration
from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.classifier_training import (
    TrainingBatches,
    distillation_set,
    early_stopping,
    fit_classifier,
)
from pediatric_pneumonia.models.ensemble import build_ensemble, ensemble_members, is_ensemble
from pediatric_pneumonia.parameters import Training, check_parameters
from pediatric_pneumonia.pipelines.training.nodes import (
    fit_calibration,
    package_predictor,
    sample_shift_reference,
    score_validation_set,
    select_decision_threshold,
    train_classifier,
)
from pediatric_pneumonia.tracking import to_mlflow_history
from tests.conftest import CLASSES, ONLINE_AUGMENTATION, PAPER_ARCHITECTURE, preprocessing_parameters
from tests.pipelines.reporting.tiny_model import expected_probability, flat_images, mean_gray_model


def separable_set(count: int, size: int = 16, seed: int = 0) -> dict:
    """Bright images are pneumonia, dark ones normal: a CNN learns it in a couple of epochs."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], count // 2).astype(np.uint8)
    images = np.where(labels[:, None, None] == 1, 190, 60) + rng.integers(-30, 30, (count, size, size))
    return {"images": images.astype(np.uint8), "labels": labels, "paths": np.array([str(i) for i in range(count)])}


# The signal of separable_set is brightness, which intensity normalisation would remove.
PREPROCESSING = preprocessing_parameters(intensity={"method": "none"})
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


def checked(training: dict) -> Training:
    """``training`` as the training node receives it from Kedro: validated, defaults filled."""
    return check_parameters("training", training)


@pytest.fixture(scope="module")
def three_epochs() -> tuple[keras.Model, dict]:
    """TRAINING (up to 3 epochs) on the separable set, trained once for the tests that only read it."""
    return train_classifier(separable_set(64), separable_set(32, seed=1), checked(TRAINING), PREPROCESSING, None)


def test_training_returns_a_model_and_per_epoch_history(three_epochs):
    model, history = three_epochs

    assert isinstance(model, keras.Model)
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"}
    assert all(len(values) == len(history["loss"]) for values in history.values())
    assert 1 <= len(history["loss"]) <= 3
    assert history["learning_rate"][0] == pytest.approx(0.001)
    assert history["learning_rate"][1] == pytest.approx(0.001 * 0.5 * (1 + np.cos(np.pi / 3)))


def test_training_is_reproducible_with_a_seed(three_epochs):
    first = three_epochs[1]
    second = train_classifier(separable_set(64), separable_set(32, seed=1), checked(TRAINING), PREPROCESSING, None)[1]
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-5)


def test_images_per_epoch_sets_the_steps_whatever_the_set_size():
    batches = TrainingBatches(separable_set(200), 16, 48, ONLINE_AUGMENTATION, PREPROCESSING.intensity.plain(), seed=0)
    assert len(batches) == 3
    seen = np.concatenate([batches[index][1] for index in range(len(batches))])
    assert len(seen) == 48


def test_every_image_is_drawn_before_any_repeats():
    batches = TrainingBatches(separable_set(40), 8, 100, ONLINE_AUGMENTATION, PREPROCESSING.intensity.plain(), seed=0)
    assert sorted(batches.order[:40]) == list(range(40))
    first_epoch = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_epoch, batches.order)


def test_batches_carry_the_weights_of_a_class_weighted_set_only():
    unweighted = TrainingBatches(separable_set(40), 8, 16, ONLINE_AUGMENTATION, PREPROCESSING.intensity.plain(), seed=0)
    weighted_set = {**separable_set(40), "weights": np.linspace(0.5, 1.5, 40)}
    weighted = TrainingBatches(weighted_set, 8, 16, ONLINE_AUGMENTATION, PREPROCESSING.intensity.plain(), seed=0)

    assert len(unweighted[0]) == 2
    images, labels, weights = weighted[0]
    np.testing.assert_array_equal(images, unweighted[0][0])
    np.testing.assert_array_equal(labels, unweighted[0][1])
    np.testing.assert_allclose(weights, weighted_set["weights"][weighted.order[:8]])


def test_per_image_weights_change_the_training_loss(today):
    training = {**TRAINING, "epochs": 1}
    plain = today[1]
    weighted_set = {**separable_set(32), "weights": np.tile([1.8, 0.2], 16).astype(np.float32)}
    weighted = train_classifier(weighted_set, separable_set(16, seed=1), checked(training), PREPROCESSING, None)[1]
    assert weighted["loss"][0] != pytest.approx(plain["loss"][0], rel=1e-3)
    assert weighted["val_loss"][0] > 0


@pytest.fixture(scope="module")
def unregularised_weights(today) -> list[np.ndarray]:
    return weights_of(today[0])


@pytest.mark.parametrize(
    "change",
    [
        {"mixup": {"method": "mixup", "alpha": 0.4}},
        {"mixup": {"method": "cutmix", "alpha": 1.0}},
        {"architecture": {**TRAINING["architecture"], "label_smoothing": 0.1}},
        {"architecture": {**TRAINING["architecture"], "weight_decay": 0.05}},
    ],
    ids=["mixup", "cutmix", "label_smoothing", "weight_decay"],
)
def test_each_regularisation_trains_and_changes_the_training(change, unregularised_weights):
    training = {**TRAINING, "epochs": 1, **change}
    model, history = train_classifier(separable_set(32), separable_set(16, seed=1), checked(training), PREPROCESSING, None)
    assert len(history["loss"]) == 1 and np.isfinite(history["val_loss"][0])
    assert not all(np.array_equal(new, old) for new, old in zip(model.get_weights(), unregularised_weights))


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
    return score_validation_set(mean_gray_model(), validation_set, CLASSES, PREPROCESSING, INFERENCE)


def threshold_of(calibration: dict, threshold: dict, validation_set: dict = SEPARABLE) -> dict:
    return select_decision_threshold(scored(validation_set), CLASSES, calibration, check_parameters("threshold", threshold))


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
        fit_calibration(scored(only_pneumonia), CLASSES, check_parameters("calibration", {"method": "temperature", "bins": 5}))
    with pytest.raises(ValueError, match="both classes"):
        threshold_of(UNCHANGED, {"method": "fixed", "value": 0.5}, only_pneumonia)


def test_calibration_node_softens_an_overconfident_model():
    # Confident and half wrong: the likelihood is best with probabilities pulled towards 0.5.
    confidently_wrong = brightness_set([30, 225, 40], [225, 30, 220])
    calibration = fit_calibration(scored(confidently_wrong), CLASSES, check_parameters("calibration", {"method": "temperature", "bins": 5}))
    assert calibration["method"] == "temperature"
    assert calibration["temperature"] > 3
    assert calibration["validation_nll_after"] < calibration["validation_nll_before"]


def test_history_in_mlflow_format_has_one_step_per_epoch_and_names_its_subset():
    tracked = to_mlflow_history({"loss": [0.7, 0.5], "val_auc": [0.8], "member_1.val_loss": [0.6], "learning_rate": [1e-3]})
    assert tracked == {
        "train.loss": [{"value": 0.7, "step": 0}, {"value": 0.5, "step": 1}],
        "validation.auc": [{"value": 0.8, "step": 0}],
        "member_1.validation.loss": [{"value": 0.6, "step": 0}],
        "train.learning_rate": [{"value": 1e-3, "step": 0}],
    }


# --- seed ensembles and test-time augmentation -------------------------------------------------

TINY_REFERENCE = {"features": np.eye(6, 2), "probabilities": np.linspace(0.1, 0.9, 6), "feature_layer": "conv_2"}

ONE_EPOCH = {**TRAINING, "epochs": 1}


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [weights.copy() for weights in model.get_weights()]


def trained(training: dict) -> tuple[keras.Model, dict]:
    return train_classifier(separable_set(32), separable_set(16, seed=1), checked(training), PREPROCESSING, None)


@pytest.fixture(scope="module")
def today() -> tuple[keras.Model, dict]:
    """One epoch of training without the ensemble setting (as before it existed) and without
    regularisation; the tests only read it."""
    return trained(ONE_EPOCH)


def test_a_one_member_ensemble_trains_todays_model(today):
    today, today_history = today
    single, single_history = trained({**ONE_EPOCH, "ensemble": {"members": 1}})

    assert not is_ensemble(single) and single_history == today_history
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(single), weights_of(today)))


def test_members_train_with_consecutive_seeds_into_one_model_with_every_members_history(today):
    ensemble, history = trained({**ONE_EPOCH, "ensemble": {"members": 2}})
    alone = [today, trained({**ONE_EPOCH, "seed": ONE_EPOCH["seed"] + 1})]

    assert is_ensemble(ensemble) and len(ensemble_members(ensemble)) == 2
    assert {name: history[name] for name in alone[0][1]} == alone[0][1]
    assert {name: history[f"member_1.{name}"] for name in alone[1][1]} == alone[1][1]
    images = as_model_input(separable_set(8, seed=2)["images"], PREPROCESSING.intensity.plain())
    logits = [logit(model.predict(images, verbose=0).reshape(-1).astype(np.float64)) for model, _ in alone]
    np.testing.assert_allclose(ensemble.predict(images, verbose=0).reshape(-1), expit(np.mean(logits, axis=0)), atol=1e-6)


def test_distillation_trains_one_network_on_the_teachers_mean_probability(today):
    student, history = trained({**ONE_EPOCH, "ensemble": {"members": 2, "distill": True}})
    teachers = build_ensemble([today[0], trained({**ONE_EPOCH, "seed": ONE_EPOCH["seed"] + 1})[0]])
    train_set = separable_set(32)

    targets = distillation_set(train_set, teachers, PREPROCESSING.intensity.plain(), batch_size=8)
    # the student is what a single network with the next seed learns from those soft targets
    alone, alone_history = fit_classifier(
        targets, separable_set(16, seed=1), checked({**ONE_EPOCH, "seed": ONE_EPOCH["seed"] + 2}),
        PREPROCESSING.intensity.plain(), callbacks=[early_stopping(checked(ONE_EPOCH).early_stopping)],
    )

    assert not is_ensemble(student) and student.count_params() == today[0].count_params()
    images = as_model_input(train_set["images"], PREPROCESSING.intensity.plain())
    np.testing.assert_allclose(targets["labels"], teachers.predict(images, verbose=0).reshape(-1), atol=1e-6)
    assert targets["labels"].dtype == np.float32 and 0 < targets["labels"].min() and targets["labels"].max() < 1
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(student), weights_of(alone)))
    assert {name: history[name] for name in alone_history} == alone_history
    assert {f"member_0.{name}" for name in today[1]} | {f"member_1.{name}" for name in today[1]} <= set(history)


def test_validation_is_scored_with_the_test_time_augmentation_the_package_scores_with():
    tta = {"transforms": ["shift_down", "zoom_out"], "shift_fraction": 0.1, "zoom": 0.2}
    validation_set = brightness_set([40, 100], [150, 180])
    validation_set["images"] = np.random.default_rng(0).integers(0, 256, (4, 4, 4), dtype=np.uint8)
    inference = check_parameters("inference", {"batch_size": 8, "tta": tta})
    frame = score_validation_set(mean_gray_model(), validation_set, CLASSES, PREPROCESSING, inference)

    predictor = package_predictor(
        mean_gray_model(), UNCHANGED, {"method": "fixed", "threshold": 0.5, "validation_roc_auc": 1.0},
        PREPROCESSING.model_copy(update={"image_size": 4}), inference, ["NORMAL", "PNEUMONIA"], TINY_REFERENCE, SHIFT,
    )

    assert predictor.tta == tta
    np.testing.assert_allclose(frame["raw_probability"], predictor.raw_probabilities(validation_set["images"]), atol=1e-7)
    assert not np.allclose(frame["raw_probability"], scored(validation_set)["raw_probability"], atol=1e-4)


SHIFT_VALUES = {"reference_size": 10, "seed": 1, "permutations": 99, "alpha": 0.05, "max_images": 100, "neighbours": 5, "warning_percentile": 99.0}
SHIFT = check_parameters("shift", SHIFT_VALUES)
INFERENCE = check_parameters("inference", {"batch_size": 8})


def test_the_shift_reference_is_a_seeded_validation_sample_with_its_calibrated_probabilities():
    classifier = build_classifier((16, 16, 1), TRAINING["architecture"])
    validation_set = separable_set(10, seed=4)
    predictions = score_validation_set(classifier, validation_set, CLASSES, PREPROCESSING, INFERENCE)
    calibration = {"method": "temperature", "temperature": 2.0}

    reference = sample_shift_reference(classifier, validation_set, predictions, CLASSES, calibration, PREPROCESSING, INFERENCE, SHIFT)
    again = sample_shift_reference(classifier, validation_set, predictions, CLASSES, calibration, PREPROCESSING, INFERENCE, SHIFT)
    decision, packaged = {"method": "fixed", "threshold": 0.5, "validation_roc_auc": 0.9}, PREPROCESSING.model_copy(update={"image_size": 16})
    predictor = package_predictor(
        classifier, calibration, decision, packaged, INFERENCE, ["NORMAL", "PNEUMONIA"], reference, SHIFT
    )

    assert reference["features"].shape == (10, 8) and str(reference["feature_layer"]) == "conv_2"
    np.testing.assert_array_equal(reference["features"], again["features"])
    calibrated = apply_calibration(predictions["raw_probability"].to_numpy(), calibration)
    assert all(np.isclose(calibrated, value).any() for value in reference["probabilities"])
    recorded = predictor.config["shift_reference"]
    assert recorded["count"] == 10 and recorded["settings"]["neighbours"] == 5 and "reference_size" not in recorded["settings"]
    capped = package_predictor(
        classifier, calibration, decision, packaged, INFERENCE, ["NORMAL", "PNEUMONIA"], reference,
        check_parameters("shift", {**SHIFT_VALUES, "reference_size": 60, "neighbours": 50}),
    )
    assert capped.config["shift_reference"]["settings"]["neighbours"] == 9  # below the reference's 10 images
