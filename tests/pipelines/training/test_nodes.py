import keras
import numpy as np
import pytest

from pediatric_pneumonia.pipelines.training.nodes import (
    build_classifier,
    select_decision_threshold,
    to_mlflow_history,
    train_classifier,
    youden_threshold,
)

PAPER_ARCHITECTURE = {
    "conv_filters": [32, 64],
    "kernel_size": 3,
    "pool_size": 2,
    "batch_norm": True,
    "dense_units": [],
    "dropout_rates": [],
    "learning_rate": 0.001,
}


def test_default_architecture_is_the_papers_final_model():
    model = build_classifier((148, 148, 1), PAPER_ARCHITECTURE)

    layer_types = [type(layer).__name__ for layer in model.layers]
    assert layer_types == [
        "InputLayer",
        "Rescaling",
        "Conv2D",
        "MaxPooling2D",
        "BatchNormalization",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    assert model.output_shape == (None, 1)
    # 148 -> conv 146 -> pool 73 -> conv 71 -> pool 35: 35 * 35 * 64 features into Dense(1)
    assert model.get_layer("flatten").output.shape[-1] == 35 * 35 * 64
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)


def test_search_space_adds_dense_and_dropout_layers():
    architecture = {**PAPER_ARCHITECTURE, "conv_filters": [16, 32, 64], "dense_units": [64, 32], "dropout_rates": [0.5, 0.2]}
    model = build_classifier((64, 64, 1), architecture)
    names = [layer.name for layer in model.layers]
    assert names.count("batch_norm_1") == 1 and "batch_norm_2" in names
    assert [model.get_layer(f"dropout_{i}").rate for i in (1, 2)] == [0.5, 0.2]


def test_dense_and_dropout_lists_must_match():
    with pytest.raises(ValueError, match="same length"):
        build_classifier((32, 32, 1), {**PAPER_ARCHITECTURE, "dense_units": [64], "dropout_rates": []})


def separable_set(count: int, size: int = 16, seed: int = 0) -> dict:
    """Bright images are pneumonia, dark ones normal: a CNN learns it in a couple of epochs."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], count // 2).astype(np.uint8)
    images = np.where(labels[:, None, None] == 1, 190, 60) + rng.integers(-30, 30, (count, size, size))
    return {"images": images.astype(np.uint8), "labels": labels, "paths": np.array([str(i) for i in range(count)])}


TRAINING = {
    "seed": 3,
    "epochs": 3,
    "batch_size": 16,
    "early_stopping_patience": 2,
    "architecture": {**PAPER_ARCHITECTURE, "conv_filters": [4, 8]},
}


def test_training_returns_a_model_and_per_epoch_history():
    model, history = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING)

    assert isinstance(model, keras.Model)
    assert set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert all(len(values) == len(history["loss"]) for values in history.values())
    assert 1 <= len(history["loss"]) <= 3


def test_training_is_reproducible_with_a_seed():
    first = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING)[1]
    second = train_classifier(separable_set(64), separable_set(32, seed=1), TRAINING)[1]
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-5)


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
