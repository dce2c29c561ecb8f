"""Differentiable Augmentation (Zhao et al., 2020) for a GAN's discriminator, as a Keras layer.

The same random transforms are applied to real and generated images, in the discriminator's
step and in the generator's step, so the discriminator cannot memorise a small training set and
the generator still learns the un-augmented distribution. Every transform is built from
``keras.ops`` and ``keras.random`` only, so gradients flow through it on every Keras backend.
"""

import keras
from keras import ops

from ..choices import DIFF_AUGMENT_POLICIES


def random_color(images, seed: keras.random.SeedGenerator):
    """Per-image brightness shift in [-0.5, 0.5) and contrast factor in [0.5, 1.5).

    DiffAugment's saturation step is left out: the images have one (gray) channel.
    """
    per_image = (ops.shape(images)[0], 1, 1, 1)
    images = images + (keras.random.uniform(per_image, seed=seed) - 0.5)
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * (keras.random.uniform(per_image, seed=seed) + 0.5) + mean


def random_shift_matrices(count, side: int, dtype: str, seed: keras.random.SeedGenerator):
    """One (side, side) 0/1 matrix per image whose product moves rows by a random shift of up to
    side / 8, zero-filling the edge it uncovers."""
    shifts = keras.random.randint((count,), -(side // 8), side // 8 + 1, seed=seed)
    positions = ops.arange(side, dtype="int32")
    targets = positions[None, :, None] + shifts[:, None, None]
    return ops.cast(ops.equal(targets, positions[None, None, :]), dtype)


def random_translation(images, seed: keras.random.SeedGenerator):
    """Per-image integer shift of up to 1/8 of the side along each axis, with zero fill."""
    height, width = images.shape[1], images.shape[2]
    count = ops.shape(images)[0]
    # Products with 0/1 matrices rather than gathers: the same code differentiates on every backend.
    rows = random_shift_matrices(count, height, images.dtype, seed)
    columns = random_shift_matrices(count, width, images.dtype, seed)
    images = ops.einsum("nik,nkwc->niwc", rows, images)
    return ops.einsum("njl,nilc->nijc", columns, images)


def random_cutout(images, seed: keras.random.SeedGenerator):
    """Per-image square of half the side set to zero, centred anywhere in the image."""
    height, width = images.shape[1], images.shape[2]
    count = ops.shape(images)[0]

    def covered(side: int, size: int):
        start = keras.random.randint((count, 1), 0, side + 1, seed=seed) - size // 2
        positions = ops.arange(side, dtype="int32")[None, :]
        return ops.logical_and(positions >= start, positions < start + size)

    hole = ops.logical_and(covered(height, height // 2)[:, :, None], covered(width, width // 2)[:, None, :])
    return images * ops.cast(ops.logical_not(hole), images.dtype)[..., None]


TRANSFORMS = {"color": random_color, "translation": random_translation, "cutout": random_cutout}


@keras.saving.register_keras_serializable(package="pediatric_pneumonia")
class DiffAugment(keras.layers.Layer):
    """Applies ``policies`` (in order) to a batch of (N, H, W, C) images when ``training``; else identity."""

    def __init__(self, policies: list[str], seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        unknown = sorted(set(policies) - set(DIFF_AUGMENT_POLICIES))
        if unknown:
            raise ValueError(f"Unknown DiffAugment policies {unknown}; use some of {list(DIFF_AUGMENT_POLICIES)}.")
        self.policies = list(policies)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        for policy in self.policies:
            images = TRANSFORMS[policy](images, self.seed_generator)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "policies": self.policies, "seed": self.seed}
