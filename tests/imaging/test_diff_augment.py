import keras
import numpy as np
import pytest
import tensorflow as tf

from pediatric_pneumonia.imaging.diff_augment import DiffAugment


def images(count: int = 4, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).random((count, size, size, 1), dtype=np.float32)


def test_diff_augment_is_the_identity_outside_training():
    layer = DiffAugment(["color", "translation", "cutout"], seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images(), training=False)), images())


@pytest.mark.parametrize("policy", ["color", "translation", "cutout"])
def test_each_diff_augment_policy_changes_training_images_and_keeps_their_shape(policy):
    augmented = keras.ops.convert_to_numpy(DiffAugment([policy], seed=1)(images(8), training=True))
    assert augmented.shape == (8, 16, 16, 1)
    assert not np.allclose(augmented, images(8))


def test_diff_augment_translation_shifts_each_image_whole_with_zero_fill():
    translated = keras.ops.convert_to_numpy(DiffAugment(["translation"], seed=3)(images(), training=True))
    padded = np.pad(images(), ((0, 0), (2, 2), (2, 2), (0, 0)))  # 16 / 8 = shifts of up to 2 pixels
    for index, image in enumerate(translated):
        shifts = [
            (rows, columns)
            for rows in range(-2, 3)
            for columns in range(-2, 3)
            if np.array_equal(image, padded[index, 2 + rows : 18 + rows, 2 + columns : 18 + columns])
        ]
        assert len(shifts) == 1


def test_gradients_flow_through_diff_augment():
    layer = DiffAugment(["color", "translation", "cutout"], seed=1)
    variable = tf.Variable(images())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(variable, training=True) ** 2)
    gradient = tape.gradient(loss, variable).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_unknown_diff_augment_policy_is_refused_by_the_layer():
    with pytest.raises(ValueError, match=r"Unknown DiffAugment policies \['flip'\]"):
        DiffAugment(["flip"])
