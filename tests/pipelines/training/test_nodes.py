import keras
import numpy as np
import pytest

from pediatric_pneumonia.pipelines.training.batches import TrainingBatches
from pediatric_pneumonia.pipelines.training.nodes import (
    check_training_parameters,
    select_decision_threshold,
    to_mlflow_history,
    train_classifier,
    youden_threshold,
)
from tests.conftest import ONLINE_AUGMENTATION, PAPER_ARCHITECTURE


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
    model, history = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING)

    assert isinstance(model, keras.Model)
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"}
    assert all(len(values) == len(history["loss"]) for values in history.values())
    assert 1 <= len(history["loss"]) <= 3
    assert history["learning_rate"][0] == pytest.approx(0.001)
    assert history["learning_rate"][1] == pytest.approx(0.001 * 0.5 * (1 + np.cos(np.pi / 3)))


def test_training_is_reproducible_with_a_seed():
    first = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING)[1]
    second = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING, PREPROCESSING)[1]
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
        check_training_parameters({**TRAINING, **change})


def test_youden_threshold_separates_perfectly_separable_scores():
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold, sensitivity, specificity = youden_threshold(labels, np.array([0.1, 0.2, 0.35, 0.4, 0.8, 0.9]))
    assert 0.35 < threshold <= 0.4
    assert sensitivity == specificity == 1.0


def test_fixed_threshold_and_unknown_method():
    assert select_decision_threshold(None, {}, {"method": "fixed", "value": 0.3}, {"batch_size": 8}) == {
        "threshold": 0.3,
        "method": "fixed",
    }
    with pytest.raises(ValueError, match="Unknown threshold method 'f1'"):
        select_decision_threshold(None, {}, {"method": "f1"}, {"batch_size": 8})


def test_history_in_mlflow_format_has_one_step_per_epoch():
    tracked = to_mlflow_history({"loss": [0.7, 0.5]})
    assert tracked == {"loss": [{"value": 0.7, "step": 0}, {"value": 0.5, "step": 1}]}
