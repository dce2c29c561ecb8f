import json

import numpy as np
import pytest

from pediatric_pneumonia.imaging.grids import class_images, image_grid
from pediatric_pneumonia.naming import synthetic_image_profiles
from pediatric_pneumonia.pipelines.synthesis.nodes import (
    build_adversarial,
    build_discriminator,
    build_generator,
    build_optimizer,
    generate_synthetic_images,
    select_gan_profile,
    train_gan,
    train_gan_step,
)
from tests.conftest import random_image_set

CLASSES = ["NORMAL", "PNEUMONIA"]


def tiny_profile(**changes) -> dict:
    profile = {
        "image_size": 16,
        "latent_dim": 8,
        "batch_size": 4,
        "iterations": 4,
        "log_every": 2,
        "checkpoint_every": 2,
        "loss": "bce",
        "optimizer": "rmsprop",
        "generator": {
            "base_filters": 8,
            "filters": [8, 4],
            "strides": [2, 2],
            "kernel_size": 3,
            "learning_rate": 0.001,
            "ema": None,
        },
        "discriminator": {
            "filters": [4, 8],
            "strides": [2, 2],
            "kernel_size": 3,
            "dropout": 0.0,
            "learning_rate": 0.001,
            "spectral_norm": False,
            "diff_augment": [],
        },
    }
    return {**profile, **changes}


def synthesis_parameters(tmp_path, **changes) -> dict:
    return {
        "target_class": "NORMAL",
        "seed": 1,
        "checkpoint_dir": str(tmp_path / "checkpoint"),
        "profile": "tiny",
        "profiles": {"tiny": tiny_profile(**changes)},
    }


def train_set(normal: int = 6) -> dict:
    return random_image_set(normal=normal, pneumonia=10, size=24)


def test_unknown_profile_is_named(tmp_path):
    parameters = {**synthesis_parameters(tmp_path), "profile": "huge"}
    with pytest.raises(ValueError, match="Unknown GAN profile 'huge'.*tiny"):
        select_gan_profile(parameters)


def test_resolution_the_generator_cannot_make_is_refused(tmp_path):
    with pytest.raises(ValueError, match="image_size 18 cannot be produced.*multiple of 4"):
        select_gan_profile(synthesis_parameters(tmp_path, image_size=18))


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


def test_no_normal_training_image_stops_before_training(tmp_path):
    with pytest.raises(ValueError, match="no NORMAL image"):
        train_gan(train_set(normal=0), CLASSES, synthesis_parameters(tmp_path))
    assert not (tmp_path / "checkpoint").exists()


def test_training_records_losses_and_checkpoints(tmp_path):
    generator, history = train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path))

    assert generator.output_shape == (None, 16, 16, 1)
    assert history["iteration"] == [2, 4]
    assert len(history["discriminator_loss"]) == len(history["generator_loss"]) == 2
    state = json.loads((tmp_path / "checkpoint" / "tiny" / "state.json").read_text())
    assert state["iteration"] == 4


def test_a_finished_checkpoint_resumes_and_extends(tmp_path):
    train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path))

    _, history = train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path, iterations=6))

    assert history["iteration"] == [2, 4, 6]


def test_other_settings_do_not_resume_a_foreign_checkpoint(tmp_path, caplog):
    train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path))
    _, history = train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path, latent_dim=6))
    assert history["iteration"] == [2, 4]
    assert "made with other settings" in caplog.text


def test_each_profile_keeps_its_own_checkpoint(tmp_path):
    train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path))
    other = {**synthesis_parameters(tmp_path, latent_dim=6), "profile": "other"}
    other["profiles"] = {"other": other["profiles"]["tiny"]}
    train_gan(train_set(), CLASSES, other)

    _, history = train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path, iterations=6))

    assert history["iteration"] == [2, 4, 6]  # resumed: the other profile did not replace it
    assert sorted(folder.name for folder in (tmp_path / "checkpoint").iterdir()) == ["other", "tiny"]


def test_generates_the_balancing_gap_at_the_classifier_size(tmp_path):
    generator, _ = train_gan(train_set(), CLASSES, synthesis_parameters(tmp_path))

    synthetic_set, pngs = generate_synthetic_images(generator, train_set(), CLASSES, synthesis_parameters(tmp_path), 24)

    assert synthetic_set["images"].shape == (4, 24, 24)  # 10 pneumonia - 6 normal
    assert synthetic_set["images"].dtype == np.uint8
    assert synthetic_set["labels"].tolist() == [0] * 4
    assert all(path.startswith("synthetic:tiny/") for path in synthetic_set["paths"])
    assert synthetic_image_profiles(synthetic_set["paths"]) == ["tiny"]
    assert sorted(pngs) == [f"synthetic_normal_{i:05d}" for i in range(4)]
    assert pngs["synthetic_normal_00000"].size == (24, 24)


def test_image_grid_tiles_images_row_by_row_and_scales_floats_to_uint8():
    images = np.stack([np.full((2, 3, 1), value, dtype=np.float32) for value in (0.0, 0.5, 1.0)])
    grid = image_grid(images, columns=2)
    assert grid.dtype == np.uint8 and grid.shape == (4, 6)
    assert (grid[:2, :3] == 0).all() and (grid[:2, 3:] == 127).all()
    assert (grid[2:, :3] == 255).all() and (grid[2:, 3:] == 0).all()  # the empty cell stays black


def test_class_images_picks_the_images_of_one_class_by_name():
    image_set = {"images": np.arange(4, dtype=np.uint8).reshape(4, 1, 1), "labels": np.array([1, 0, 1, 0])}
    assert class_images(image_set, ["NORMAL", "PNEUMONIA"], "PNEUMONIA").ravel().tolist() == [0, 2]
