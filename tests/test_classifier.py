import keras
import numpy as np
import pytest

from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier import build_classifier, predict_probabilities
from tests.conftest import PAPER_ARCHITECTURE

INTENSITY = {"method": "none", "clahe_clip_limit": 2.0, "clahe_tile_grid": 2, "percentiles": [1, 99]}


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
    assert model.get_layer("batch_norm_1").momentum == pytest.approx(0.9)


def test_search_space_adds_dense_and_dropout_layers():
    architecture = {**PAPER_ARCHITECTURE, "conv_filters": [16, 32, 64], "dense_units": [64, 32], "dropout_rates": [0.5, 0.2]}
    model = build_classifier((64, 64, 1), architecture)
    names = [layer.name for layer in model.layers]
    assert names.count("batch_norm_1") == 1 and "batch_norm_2" in names
    assert [model.get_layer(f"dropout_{i}").rate for i in (1, 2)] == [0.5, 0.2]


def test_dense_and_dropout_lists_must_match():
    with pytest.raises(ValueError, match="same length"):
        build_classifier((32, 32, 1), {**PAPER_ARCHITECTURE, "dense_units": [64], "dropout_rates": []})


def test_stored_uint8_images_and_the_models_rescaling_agree():
    """Normalised images stay 0-255 and the model's first layer maps them to [0, 1]."""
    images = np.random.default_rng(0).integers(0, 256, (3, 20, 20), dtype=np.uint8)
    for method in ("none", "clahe", "histogram_equalisation", "percentile_window"):
        model_input = as_model_input(images, {**INTENSITY, "method": method})
        assert model_input.shape == (3, 20, 20, 1) and model_input.dtype == np.float32
        assert 0 <= model_input.min() and model_input.max() <= 255
    model = build_classifier((20, 20, 1), {**PAPER_ARCHITECTURE, "conv_filters": [4]})
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)


def test_probabilities_are_computed_on_normalised_images():
    """A model that reads the mean pixel sees a dark image brightened by histogram equalisation."""
    inputs = keras.Input((8, 8, 1))
    mean_pixel = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, mean_pixel)
    dark = np.tile(np.arange(64, dtype=np.uint8).reshape(8, 8) // 2, (1, 1, 1))
    raw = predict_probabilities(model, dark, {**INTENSITY, "method": "none"}, batch_size=4)
    equalised = predict_probabilities(model, dark, {**INTENSITY, "method": "histogram_equalisation"}, batch_size=4)
    assert equalised[0] > raw[0] + 0.3



def test_without_regularisation_the_classifier_is_compiled_as_the_paper():
    model = build_classifier((20, 20, 1), {**PAPER_ARCHITECTURE, "conv_filters": [4]})
    assert type(model.optimizer) is keras.optimizers.Adam
    assert model.loss.get_config()["label_smoothing"] == 0.0


def test_weight_decay_selects_adamw_and_label_smoothing_the_smoothed_loss():
    architecture = {**PAPER_ARCHITECTURE, "conv_filters": [4], "weight_decay": 0.01, "label_smoothing": 0.1}
    model = build_classifier((20, 20, 1), architecture)
    assert type(model.optimizer) is keras.optimizers.AdamW
    assert model.optimizer.weight_decay == pytest.approx(0.01)
    # Smoothed targets are 0.05 and 0.95: a prediction of 0.95 for a positive costs -log(0.95)
    # weighted 0.95 plus -log(0.05) weighted 0.05.
    loss = float(model.loss(np.array([[1.0]]), np.array([[0.95]])))
    assert loss == pytest.approx(-(0.95 * np.log(0.95) + 0.05 * np.log(0.05)), rel=1e-4)
