"""The DCGAN that makes synthetic images of the minority class: its builders, losses and the moving
average of its generator.

Plain Keras 3 (no ``tf.*``): the discriminator and the stacked generator + frozen discriminator
are trained alternately with ``train_on_batch`` (``dcgan_training``), which every Keras backend
implements, so the ``paper`` profile can run on a GPU under ``KERAS_BACKEND=jax``.

Besides the paper's method (binary cross-entropy, RMSprop), a profile can choose the usual
stabilisers of small-data GANs: the hinge loss, Adam with two learning rates, spectral
normalisation and DiffAugment in the discriminator, and a moving average of the generator.
"""

import math
from dataclasses import dataclass

import keras
import numpy as np

from ..imaging.diff_augment import DiffAugment


def generator_hinge_loss(y_true, y_pred):
    """The hinge GAN's generator loss, -D(G(z)) per image; the labels are not used."""
    return -keras.ops.mean(y_pred, axis=-1)


# Per loss: the discriminator's output activation, its loss and the generator's loss. Keras'
# "hinge" turns the 1/0 labels into +1/-1.
GAN_LOSSES = {
    "bce": ("sigmoid", "binary_crossentropy", "binary_crossentropy"),
    "hinge": (None, "hinge", generator_hinge_loss),
}


def build_optimizer(profile: dict, learning_rate: float) -> keras.optimizers.Optimizer:
    """The profile's optimizer: RMSprop (the paper) or Adam with the profile's beta_1 and beta_2."""
    if profile["optimizer"] == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=profile["beta_1"], beta_2=profile["beta_2"])
    return keras.optimizers.RMSprop(learning_rate=learning_rate)


def build_generator(image_size: int, latent_dim: int, generator: dict) -> keras.Model:
    """Dense(s*s*base) - Reshape - [Conv2DTranspose - BN - ReLU]* - Conv2DTranspose(1) - sigmoid."""
    start = image_size // math.prod(generator["strides"])
    kernel = generator["kernel_size"]
    noise = keras.Input(shape=(latent_dim,), name="noise")
    features = keras.layers.Dense(start * start * generator["base_filters"], name="project")(noise)
    features = keras.layers.Reshape((start, start, generator["base_filters"]))(features)
    for index, (filters, stride) in enumerate(zip(generator["filters"], generator["strides"])):
        features = keras.layers.Conv2DTranspose(
            filters, kernel, strides=stride, padding="same", name=f"upsample_{index + 1}"
        )(features)
        features = keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{index + 1}")(features)
        features = keras.layers.ReLU()(features)
    image = keras.layers.Conv2DTranspose(1, kernel, padding="same", activation="sigmoid", name="image")(features)
    return keras.Model(noise, image, name="generator")


def build_discriminator(
    image_size: int, discriminator: dict, loss: str, optimizer: keras.optimizers.Optimizer
) -> keras.Model:
    """(DiffAugment -) [Conv2D - LeakyReLU (- Dropout)]* - Flatten - Dense(1), compiled with ``loss``.

    The paper's: no DiffAugment, no spectral normalisation, a sigmoid output, binary cross-entropy.
    """
    activation, discriminator_loss, _ = GAN_LOSSES[loss]
    image = keras.Input(shape=(image_size, image_size, 1), name="image")
    features = image
    if discriminator["diff_augment"]:
        features = DiffAugment(discriminator["diff_augment"], name="diff_augment")(features)
    for index, (filters, stride) in enumerate(zip(discriminator["filters"], discriminator["strides"])):
        convolution = keras.layers.Conv2D(
            filters, discriminator["kernel_size"], strides=stride, padding="same", name=f"conv_{index + 1}"
        )
        features = spectrally_normalised(convolution, discriminator["spectral_norm"])(features)
        features = keras.layers.LeakyReLU(negative_slope=0.2)(features)
        if discriminator["dropout"]:
            features = keras.layers.Dropout(discriminator["dropout"])(features)
    features = keras.layers.Flatten()(features)
    output = keras.layers.Dense(1, activation=activation, name="real")
    real = spectrally_normalised(output, discriminator["spectral_norm"])(features)
    model = keras.Model(image, real, name="discriminator")
    model.compile(optimizer=optimizer, loss=discriminator_loss)
    return model


def spectrally_normalised(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """``layer`` wrapped in spectral normalisation when ``spectral_norm``, else ``layer`` itself.

    Keras' wrapper writes W / sigma(W) back into the kernel whenever it runs in training mode, the
    generator's step included: a projection, not a gradient update of the frozen discriminator.
    """
    return keras.layers.SpectralNormalization(layer, name=f"spectral_{layer.name}") if spectral_norm else layer


def build_adversarial(
    generator: keras.Model, discriminator: keras.Model, loss: str, optimizer: keras.optimizers.Optimizer
) -> keras.Model:
    """Generator followed by the discriminator, compiled to train the generator only.

    The discriminator runs in training mode inside it, so its DiffAugment (if any) augments the
    generator's images in the generator's step too, as DiffAugment requires.
    """
    discriminator.trainable = False
    noise = keras.Input(shape=generator.input_shape[1:], name="noise")
    model = keras.Model(noise, discriminator(generator(noise)), name="adversarial")
    model.compile(optimizer=optimizer, loss=GAN_LOSSES[loss][2])
    return model


@dataclass
class GanModels:
    """The models of one GAN training. ``average`` holds the moving average of ``generator``'s
    weights when the profile sets ``generator.ema``; it is then the generator that is published."""

    generator: keras.Model
    discriminator: keras.Model
    average: keras.Model | None

    @property
    def published(self) -> keras.Model:
        """The generator whose images are used: the average when there is one."""
        return self.generator if self.average is None else self.average


def build_gan(profile: dict) -> GanModels:
    """Freshly initialised models for ``profile``; the average starts as a copy of the generator."""
    generator = build_generator(profile["image_size"], profile["latent_dim"], profile["generator"])
    discriminator = build_discriminator(
        profile["image_size"],
        profile["discriminator"],
        profile["loss"],
        build_optimizer(profile, profile["discriminator"]["learning_rate"]),
    )
    average = None
    if profile["generator"]["ema"] is not None:
        average = keras.models.clone_model(generator)
        average.set_weights(generator.get_weights())
    return GanModels(generator, discriminator, average)


def averaging_momentum(momentum: float, step: int) -> float:
    """The momentum of the ``step``-th (1-based) update of a bias-corrected moving average.

    (m - m^t) / (1 - m^t) makes the average the m^(t-i)-weighted mean of the generators seen so
    far, with no trace of the random initial weights (a plain average started from them at
    momentum 0.999 still holds 37% of them after 1,000 updates). It follows from the iteration
    alone, so a resumed run continues it exactly.
    """
    return momentum * (1 - momentum ** (step - 1)) / (1 - momentum**step)


def update_average(average: keras.Model, generator: keras.Model, momentum: float) -> None:
    """average <- momentum * average + (1 - momentum) * generator, for every weight.

    The batch-normalisation statistics are averaged too, so they follow the averaged weights.
    """
    for average_weight, weight in zip(average.weights, generator.weights):
        average_weight.assign(momentum * average_weight + (1 - momentum) * weight)


def sample_noise(rng: np.random.Generator, count: int, latent_dim: int) -> np.ndarray:
    """Latent noise from uniform(-1, 1), as in the paper."""
    return rng.uniform(-1.0, 1.0, size=(count, latent_dim)).astype(np.float32)
