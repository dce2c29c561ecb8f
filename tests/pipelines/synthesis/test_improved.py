"""The improved GAN option: hinge loss, Adam, spectral normalisation, DiffAugment, weight average."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from pediatric_pneumonia.imaging.diff_augment import DiffAugment
from pediatric_pneumonia.pipelines.synthesis.nodes import (
    averaging_momentum,
    build_adversarial,
    build_gan,
    build_optimizer,
    generate_synthetic_images,
    select_gan_profile,
    train_gan,
    update_average,
)
from tests.pipelines.synthesis.test_nodes import CLASSES, synthesis_parameters, tiny_profile, train_set

BASE_PARAMETERS = Path(__file__).parents[3] / "conf" / "base" / "parameters_synthesis.yml"
IMPROVED = {"loss": "hinge", "optimizer": "adam", "beta_1": 0.0, "beta_2": 0.9}


def improved_profile(**changes) -> dict:
    profile = tiny_profile(**IMPROVED)
    profile["generator"] = {**profile["generator"], "ema": 0.9}
    profile["discriminator"] = {
        **profile["discriminator"],
        "learning_rate": 0.004,
        "spectral_norm": True,
        "diff_augment": ["color", "translation", "cutout"],
    }
    return {**profile, **changes}


def improved_parameters(tmp_path, **changes) -> dict:
    return {**synthesis_parameters(tmp_path), "profiles": {"tiny": improved_profile(**changes)}}


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss": "wasserstein"}, r"unknown loss 'wasserstein'.*\['bce', 'hinge'\]"),
        ({"optimizer": "sgd"}, r"unknown optimizer 'sgd'.*\['rmsprop', 'adam'\]"),
        ({"beta_1": None}, r"optimizer adam needs beta_1 and beta_2"),
        ({"optimizer": "rmsprop"}, r"\['beta_1', 'beta_2'\] are Adam's settings"),
        ({"generator": {**improved_profile()["generator"], "ema": 1.0}}, r"generator.ema must be null or a momentum"),
        ({"discriminator": {**improved_profile()["discriminator"], "spectral_norm": "yes"}}, r"spectral_norm must be"),
        (
            {"discriminator": {**improved_profile()["discriminator"], "diff_augment": ["color", "flip"]}},
            r"unknown discriminator.diff_augment \['color', 'flip'\].*\['color', 'translation', 'cutout'\]",
        ),
    ],
)
def test_unusable_method_settings_are_named(tmp_path, change, message):
    with pytest.raises(ValueError, match=r"GAN profile 'tiny' \(synthesis.profiles.tiny in conf/base/.*" + message):
        select_gan_profile(improved_parameters(tmp_path, **change))


def test_a_profile_without_the_method_settings_is_told_which_to_set(tmp_path):
    profile = tiny_profile()
    del profile["loss"], profile["discriminator"]["diff_augment"]
    parameters = {**synthesis_parameters(tmp_path), "profiles": {"tiny": profile}}
    with pytest.raises(ValueError, match=r"lacks \['loss', 'discriminator.diff_augment'\].*loss: bce \| hinge"):
        select_gan_profile(parameters)


def test_the_configured_profiles_are_the_papers_dcgan_except_cpu_stable():
    synthesis = yaml.safe_load(BASE_PARAMETERS.read_text())["synthesis"]
    assert synthesis["profile"] == "cpu"
    for name in ("cpu", "paper"):
        profile = select_gan_profile({**synthesis, "profile": name})
        assert (profile["loss"], profile["optimizer"], profile["generator"]["ema"]) == ("bce", "rmsprop", None)
        assert (profile["discriminator"]["spectral_norm"], profile["discriminator"]["diff_augment"]) == (False, [])
    stable = select_gan_profile({**synthesis, "profile": "cpu_stable"})
    cpu = synthesis["profiles"]["cpu"]
    # The cpu DCGAN in the same budget, published as a moving average of the generator's weights.
    assert stable["generator"]["ema"] == 0.99
    assert {**stable, "generator": {**stable["generator"], "ema": None}} == cpu


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


def test_the_improved_gan_trains_and_generates_images_in_range(tmp_path):
    generator, history = train_gan(train_set(), CLASSES, improved_parameters(tmp_path))

    assert history["iteration"] == [2, 4]
    assert np.isfinite(history["discriminator_loss"] + history["generator_loss"]).all()
    generated = generator.predict(np.random.default_rng(0).uniform(-1, 1, (5, 8)), verbose=0)
    assert generated.shape == (5, 16, 16, 1) and generated.min() >= 0 and generated.max() <= 1
    synthetic_set, _ = generate_synthetic_images(generator, train_set(), CLASSES, improved_parameters(tmp_path), 24)
    assert synthetic_set["images"].shape == (4, 24, 24)


def test_the_improved_checkpoint_reloads_in_safe_mode_publishes_the_average_and_resumes(tmp_path):
    generator, _ = train_gan(train_set(), CLASSES, improved_parameters(tmp_path))
    folder = tmp_path / "checkpoint" / "tiny"

    published = keras.saving.load_model(folder / "generator.keras", safe_mode=True)
    training = keras.saving.load_model(folder / "training_generator.keras", safe_mode=True)
    discriminator = keras.saving.load_model(folder / "discriminator.keras", safe_mode=True)
    assert isinstance(discriminator.get_layer("diff_augment"), DiffAugment)
    assert discriminator.get_layer("diff_augment").policies == ["color", "translation", "cutout"]
    for returned, saved in zip(generator.get_weights(), published.get_weights()):
        np.testing.assert_array_equal(returned, saved)
    assert any(not np.allclose(a, b) for a, b in zip(published.get_weights(), training.get_weights()))

    _, history = train_gan(train_set(), CLASSES, improved_parameters(tmp_path, iterations=6))

    assert history["iteration"] == [2, 4, 6]
    assert json.loads((folder / "state.json").read_text())["iteration"] == 6
