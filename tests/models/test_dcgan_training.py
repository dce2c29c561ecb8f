import json

import keras
import numpy as np

from pediatric_pneumonia.imaging.diff_augment import DiffAugment
from pediatric_pneumonia.models.dcgan import build_adversarial, build_discriminator, build_generator, build_optimizer
from pediatric_pneumonia.models.dcgan_training import generate_images, select_class_images, train_dcgan, train_gan_step
from tests.models.gan_parameters import CLASSES, improved_profile, tiny_profile, train_set


def normal_images() -> np.ndarray:
    return select_class_images(train_set(), CLASSES, "NORMAL", 16)


def test_class_images_are_resized_to_the_gans_size_in_the_unit_range():
    real = normal_images()
    assert real.shape == (6, 16, 16, 1) and real.dtype == np.float32
    assert 0 <= real.min() and real.max() <= 1


def test_each_step_updates_only_its_own_model():
    profile = tiny_profile()
    generator = build_generator(16, 8, profile["generator"])
    discriminator = build_discriminator(16, profile["discriminator"], "bce", build_optimizer(profile, 0.001))
    adversarial = build_adversarial(generator, discriminator, "bce", build_optimizer(profile, 0.01))
    rng = np.random.default_rng(0)
    real = rng.random((4, 16, 16, 1), dtype=np.float32)
    generator_before = [w.copy() for w in generator.get_weights()]
    discriminator_before = [w.copy() for w in discriminator.get_weights()]

    for _ in range(2):
        train_gan_step(generator, discriminator, adversarial, real, rng)

    assert any(not np.allclose(a, b) for a, b in zip(generator_before, generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(discriminator_before, discriminator.get_weights()))

    # The adversarial step alone must leave the discriminator untouched.
    discriminator_now = [w.copy() for w in discriminator.get_weights()]
    discriminator.trainable = False
    adversarial.train_on_batch(rng.uniform(-1, 1, (4, 8)).astype(np.float32), np.ones((4, 1), np.float32))
    for before, after in zip(discriminator_now, discriminator.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_training_records_losses_reports_progress_and_checkpoints(tmp_path):
    reported = []

    def on_progress(losses, iteration, samples):
        reported.append((sorted(losses), iteration, samples.shape))

    generator, history = train_dcgan(normal_images(), tiny_profile(), 1, tmp_path / "checkpoint", on_progress)

    assert generator.output_shape == (None, 16, 16, 1)
    assert history["iteration"] == [2, 4]
    assert len(history["discriminator_loss"]) == len(history["generator_loss"]) == 2
    assert reported == [(["discriminator_loss", "generator_loss"], step, (16, 16, 16, 1)) for step in (2, 4)]
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["iteration"] == 4


def test_a_finished_checkpoint_resumes_and_extends(tmp_path):
    train_dcgan(normal_images(), tiny_profile(), 1, tmp_path)

    _, history = train_dcgan(normal_images(), tiny_profile(iterations=6), 1, tmp_path)

    assert history["iteration"] == [2, 4, 6]


def test_other_settings_do_not_resume_a_foreign_checkpoint(tmp_path, caplog):
    train_dcgan(normal_images(), tiny_profile(), 1, tmp_path)
    _, history = train_dcgan(normal_images(), tiny_profile(latent_dim=6), 1, tmp_path)
    assert history["iteration"] == [2, 4]
    assert "made with other settings" in caplog.text


def test_the_improved_checkpoint_reloads_in_safe_mode_publishes_the_average_and_resumes(tmp_path):
    generator, _ = train_dcgan(normal_images(), improved_profile(), 1, tmp_path)

    published = keras.saving.load_model(tmp_path / "generator.keras", safe_mode=True)
    training = keras.saving.load_model(tmp_path / "training_generator.keras", safe_mode=True)
    discriminator = keras.saving.load_model(tmp_path / "discriminator.keras", safe_mode=True)
    assert isinstance(discriminator.get_layer("diff_augment"), DiffAugment)
    assert discriminator.get_layer("diff_augment").policies == ["color", "translation", "cutout"]
    for returned, saved in zip(generator.get_weights(), published.get_weights()):
        np.testing.assert_array_equal(returned, saved)
    assert any(not np.allclose(a, b) for a, b in zip(published.get_weights(), training.get_weights()))

    _, history = train_dcgan(normal_images(), improved_profile(iterations=6), 1, tmp_path)

    assert history["iteration"] == [2, 4, 6]
    assert json.loads((tmp_path / "state.json").read_text())["iteration"] == 6


def test_generated_images_are_uint8_at_the_requested_size_and_none_is_an_empty_batch():
    generator = build_generator(16, 8, tiny_profile()["generator"])
    images = generate_images(generator, 3, 24, np.random.default_rng(0))
    assert images.shape == (3, 24, 24) and images.dtype == np.uint8
    assert generate_images(generator, 0, 24, np.random.default_rng(0)).shape == (0, 24, 24)
