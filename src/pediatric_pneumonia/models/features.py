"""The feature space synthetic images are judged in: the global-average-pooled last feature map of a
classifier trained on real images only (the ``baseline``). ImageNet features cannot be downloaded
here and judge X-rays poorly anyway. The shift check (``evaluation.shift``) compares new images with
validation in the same space of the model that scores them."""

import keras
import numpy as np

from ..imaging.preprocess import as_model_input
from .architectures import feature_map_layer_name
from .ensemble import ensemble_members
from .outputs import model_outputs


def feature_extractor(classifier: keras.Model, layer_name: str | None = None) -> keras.Model:
    """The classifier cut after ``layer_name`` (default: its last feature map,
    ``feature_map_layer_name``, any family), globally average-pooled: one vector per image. Of a seed
    ensemble: its first member's (same input)."""
    source = ensemble_members(classifier)[0]
    feature_map = source.get_layer(layer_name or feature_map_layer_name(source)).output
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled_features")(feature_map)
    return keras.Model(source.inputs, pooled, name="feature_extractor")


def embed(extractor: keras.Model, images: np.ndarray, intensity: dict, batch_size: int) -> np.ndarray:
    """Feature vectors of stored uint8 (N, H, W) images, normalised as the classifier was trained."""
    return model_outputs(extractor, as_model_input(images, intensity), batch_size).astype(np.float64)
