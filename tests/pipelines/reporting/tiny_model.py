"""A tiny model whose probability is a known function of the image's mean gray level."""

import keras
import numpy as np

INTENSITY = {"method": "none"}


def flat_images(levels: list[int], size: int = 4) -> np.ndarray:
    """One flat uint8 image per gray level."""
    return np.stack([np.full((size, size), level, dtype=np.uint8) for level in levels])


def expected_probability(levels: list[int]) -> np.ndarray:
    """What ``mean_gray_model`` answers: sigmoid(8 x mean / 255 - 4)."""
    return 1 / (1 + np.exp(-(8 * np.asarray(levels) / 255 - 4)))


def mean_gray_model(size: int = 4) -> keras.Model:
    """sigmoid(8 x mean pixel / 255 - 4) of a (size, size, 1) image."""
    inputs = keras.Input((size, size, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    output = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Model(inputs, output(pooled))
    output.set_weights([np.array([[8.0]]), np.array([-4.0])])
    return model
