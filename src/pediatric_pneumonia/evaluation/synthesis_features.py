"""The feature space synthetic images are judged in: the global-average-pooled last feature map of a
classifier trained on real images only (the ``baseline``). ImageNet features cannot be downloaded
here and judge X-rays poorly anyway."""

import keras
import numpy as np

from ..imaging.preprocess import as_model_input
from ..models.architectures import feature_map_layer_name


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """The classifier cut at its last feature map (``feature_map_layer_name``, any family), globally
    average-pooled: one vector per image."""
    last_map = classifier.get_layer(feature_map_layer_name(classifier)).output
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled_features")(last_map)
    return keras.Model(classifier.inputs, pooled, name="feature_extractor")


def embed(extractor: keras.Model, images: np.ndarray, intensity: dict, batch_size: int) -> np.ndarray:
    """Feature vectors of stored uint8 (N, H, W) images, normalised as the classifier was trained."""
    return extractor.predict(as_model_input(images, intensity), batch_size=batch_size, verbose=0).astype(np.float64)
