import numpy as np
import pytest

from pediatric_pneumonia.models.dcgan import build_generator
from pediatric_pneumonia.naming import synthetic_image_profiles
from pediatric_pneumonia.parameters import Synthesis, check_parameters
from pediatric_pneumonia.pipelines.synthesis.nodes import generate_synthetic_images, plot_gan_losses, train_gan
from tests.models.gan_parameters import CLASSES, improved_parameters, synthesis_parameters, tiny_profile, train_set


def checked(synthesis: dict) -> Synthesis:
    """``synthesis`` as the synthesis nodes receive it from Kedro: validated."""
    return check_parameters("synthesis", synthesis)


def test_no_normal_training_image_stops_before_training(tmp_path):
    with pytest.raises(ValueError, match="no NORMAL image"):
        train_gan(train_set(normal=0), CLASSES, checked(synthesis_parameters(tmp_path)))
    assert not (tmp_path / "checkpoint").exists()


def test_an_unknown_profile_stops_before_training(tmp_path):
    with pytest.raises(ValueError, match="Unknown GAN profile 'huge'"):
        train_gan(train_set(), CLASSES, checked({**synthesis_parameters(tmp_path), "profile": "huge"}))


def test_each_profile_keeps_its_own_checkpoint(tmp_path):
    train_gan(train_set(), CLASSES, checked(synthesis_parameters(tmp_path)))
    other = {**synthesis_parameters(tmp_path, latent_dim=6), "profile": "other"}
    other["profiles"] = {"other": other["profiles"]["tiny"]}
    train_gan(train_set(), CLASSES, checked(other))

    _, history = train_gan(train_set(), CLASSES, checked(synthesis_parameters(tmp_path, iterations=6)))

    assert history["iteration"] == [2, 4, 6]  # resumed: the other profile did not replace it
    assert sorted(folder.name for folder in (tmp_path / "checkpoint").iterdir()) == ["other", "tiny"]


def test_generates_the_balancing_gap_at_the_classifier_size(tmp_path):
    generator, _ = train_gan(train_set(), CLASSES, checked(synthesis_parameters(tmp_path)))

    synthetic_set, pngs = generate_synthetic_images(generator, train_set(), CLASSES, checked(synthesis_parameters(tmp_path)), 24)

    assert synthetic_set["images"].shape == (4, 24, 24)  # 10 pneumonia - 6 normal
    assert synthetic_set["images"].dtype == np.uint8
    assert synthetic_set["labels"].tolist() == [0] * 4
    assert all(path.startswith("synthetic:tiny/") for path in synthetic_set["paths"])
    assert synthetic_image_profiles(synthetic_set["paths"]) == ["tiny"]
    assert sorted(pngs) == [f"synthetic_normal_{i:05d}" for i in range(4)]
    assert pngs["synthetic_normal_00000"].size == (24, 24)


def test_a_balanced_training_set_needs_no_synthetic_image(tmp_path):
    generator = build_generator(16, 8, tiny_profile()["generator"])

    balanced = train_set(normal=10)
    synthetic_set, pngs = generate_synthetic_images(generator, balanced, CLASSES, checked(synthesis_parameters(tmp_path)), 24)

    assert synthetic_set["images"].shape == (0, 24, 24) and len(synthetic_set["paths"]) == 0
    assert pngs == {}


def test_the_improved_gan_trains_and_generates_images_in_range(tmp_path):
    generator, history = train_gan(train_set(), CLASSES, checked(improved_parameters(tmp_path)))

    assert history["iteration"] == [2, 4]
    assert np.isfinite(history["discriminator_loss"] + history["generator_loss"]).all()
    generated = generator.predict(np.random.default_rng(0).uniform(-1, 1, (5, 8)), verbose=0)
    assert generated.shape == (5, 16, 16, 1) and generated.min() >= 0 and generated.max() <= 1
    synthetic_set, _ = generate_synthetic_images(generator, train_set(), CLASSES, checked(improved_parameters(tmp_path)), 24)
    assert synthetic_set["images"].shape == (4, 24, 24)


def test_the_loss_plot_has_one_line_per_model():
    figure = plot_gan_losses({"iteration": [2, 4], "discriminator_loss": [0.7, 0.6], "generator_loss": [0.8, 0.9]})
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["discriminator loss", "generator loss"]


def test_a_three_class_task_is_refused_before_any_gan_trains(tmp_path):
    synthesis = check_parameters("synthesis", synthesis_parameters(tmp_path))
    with pytest.raises(ValueError, match=r"needs a generator per smaller class.*Run baseline, augmentation, class_weight or oversample"):
        train_gan(train_set(), ["NORMAL", "BACTERIA", "VIRUS"], synthesis)
    assert not any(tmp_path.rglob("*.keras"))
