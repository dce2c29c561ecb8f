"""The DCGAN's builders, losses and moving average, the paper's and the improved option (hinge
loss, Adam, spectral normalisation, DiffAugment, a weight average)."""

import keras
import numpy as np
import pytest
import yaml

from pediatric_pneumonia.models.dcgan import (
    averaging_momentum,
    build_adversarial,
    build_discriminator,
    build_gan,
    build_generator,
    build_optimizer,
    update_average,
)
from pediatric_pneumonia.models.gan_profiles import select_gan_profile
from tests.models.gan_parameters import improved_profile
from tests.models.test_gan_profiles import BASE_PARAMETERS


def test_papers_architecture_shapes():
    generator = build_generator(
        148, 100, {"base_filters": 128, "filters": [128, 64, 32], "strides": [2, 2, 1], "kernel_size": 5}
    )
    assert generator.output_shape == (None, 148, 148, 1)
    assert generator.get_layer("project").units == 37 * 37 * 128
    discriminator = build_discriminator(
        148,
        {
            "filters": [32, 64, 128, 256],
            "strides": [2, 2, 2, 1],
            "kernel_size": 5,
            "dropout": 0.4,
            "learning_rate": 2e-4,
            "spectral_norm": False,
            "diff_augment": [],
        },
        "bce",
        build_optimizer({"optimizer": "rmsprop"}, 2e-4),
    )
    assert discriminator.output_shape == (None, 1)
    assert [layer.filters for layer in discriminator.layers if hasattr(layer, "filters")] == [32, 64, 128, 256]


def test_the_frozen_discriminator_still_augments_the_generators_images():
    profile = improved_profile()
    profile["discriminator"] = {**profile["discriminator"], "spectral_norm": False}
    models = build_gan(profile)
    adversarial = build_adversarial(models.generator, models.discriminator, "hinge", build_optimizer(profile, 0.001))
    noise = np.random.default_rng(0).uniform(-1, 1, (4, 8)).astype(np.float32)
    unaugmented = models.discriminator(models.generator(noise, training=True), training=False)

    assert not models.discriminator.trainable
    # With neither dropout nor spectral normalisation, only DiffAugment makes the training-mode
    # calls differ from the un-augmented score and from each other.
    first, second = (keras.ops.convert_to_numpy(adversarial(noise, training=True)) for _ in range(2))
    assert not np.allclose(first, keras.ops.convert_to_numpy(unaugmented))
    assert not np.allclose(first, second)


def test_the_generators_step_gives_the_spectrally_normalised_discriminator_no_gradient_update():
    profile = improved_profile()
    models = build_gan(profile)
    adversarial = build_adversarial(models.generator, models.discriminator, "hinge", build_optimizer(profile, 0.01))
    biases = [weight.numpy().copy() for weight in models.discriminator.weights if weight.name == "bias"]
    generator_before = [weight.copy() for weight in models.generator.get_weights()]

    adversarial.train_on_batch(np.random.default_rng(0).uniform(-1, 1, (4, 8)), np.ones((4, 1), np.float32))

    # Spectral normalisation rescales the kernels in any training-mode call; the biases show
    # whether the optimizer touched the discriminator.
    after = [weight.numpy() for weight in models.discriminator.weights if weight.name == "bias"]
    assert len(biases) == 3
    for before, now in zip(biases, after):
        np.testing.assert_array_equal(before, now)
    assert any(not np.allclose(a, b) for a, b in zip(generator_before, models.generator.get_weights()))


def test_the_cpu_profile_builds_the_papers_discriminator():
    profile = select_gan_profile({**yaml.safe_load(BASE_PARAMETERS.read_text())["synthesis"], "profile": "cpu"})
    models = build_gan(profile)
    layers = [type(layer).__name__ for layer in models.discriminator.layers]
    assert layers == ["InputLayer"] + ["Conv2D", "LeakyReLU"] * 4 + ["Flatten", "Dense"]
    assert models.discriminator.get_layer("real").activation is keras.activations.sigmoid
    assert isinstance(models.discriminator.optimizer, keras.optimizers.RMSprop)
    assert models.discriminator.loss == "binary_crossentropy"
    assert models.average is None


def test_the_improved_discriminator_is_augmented_spectrally_normalised_and_linear():
    models = build_gan(improved_profile())
    layers = [type(layer).__name__ for layer in models.discriminator.layers]
    assert layers[1] == "DiffAugment" and layers.count("SpectralNormalization") == 3  # two convolutions, the output
    assert models.discriminator.get_layer("spectral_real").layer.activation is keras.activations.linear
    assert isinstance(models.discriminator.optimizer, keras.optimizers.Adam)
    assert models.discriminator.loss == "hinge"


def test_the_average_moves_towards_the_generator_by_one_minus_the_momentum():
    models = build_gan(improved_profile())
    before = [weight.copy() for weight in models.average.get_weights()]
    models.generator.set_weights([weight + 1 for weight in models.generator.get_weights()])

    update_average(models.average, models.generator, 0.9)

    for old, new in zip(before, models.average.get_weights()):
        np.testing.assert_allclose(new, old + 0.1, rtol=1e-5, atol=1e-6)


def test_the_bias_corrected_average_is_the_weighted_mean_of_the_generators_seen():
    momentum, values = 0.9, [3.0, -1.0, 5.0]
    average = 123.0  # the starting value must leave no trace
    for step, value in enumerate(values, start=1):
        rate = averaging_momentum(momentum, step)
        average = rate * average + (1 - rate) * value
    weights = momentum ** np.arange(len(values))[::-1]
    assert averaging_momentum(momentum, 1) == 0
    assert average == pytest.approx(np.dot(weights, values) / weights.sum())
    assert averaging_momentum(momentum, 10_000) == pytest.approx(momentum)
