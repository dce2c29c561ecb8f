import numpy as np
import pytest

from pediatric_pneumonia.models.dcgan import build_generator
from pediatric_pneumonia.naming import synthetic_image_profiles
from pediatric_pneumonia.parameters import Synthesis, check_parameters
from pediatric_pneumonia.pipelines.synthesis.nodes import generate_synthetic_images, plot_gan_losses, train_gan
from tests.conftest import random_image_set
from tests.models.gan_parameters import CLASSES, improved_parameters, synthesis_parameters, tiny_profile, train_set

SUBTYPE_CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]


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

    _, histories = train_gan(train_set(), CLASSES, checked(synthesis_parameters(tmp_path, iterations=6)))

    assert histories["NORMAL"]["iteration"] == [2, 4, 6]  # resumed: the other profile did not replace it
    assert sorted(folder.name for folder in (tmp_path / "checkpoint").iterdir()) == ["other", "tiny"]
    assert [folder.name for folder in (tmp_path / "checkpoint/tiny").iterdir()] == ["NORMAL"]


def test_generates_the_balancing_gap_at_the_classifier_size(tmp_path):
    generators, _ = train_gan(train_set(), CLASSES, checked(synthesis_parameters(tmp_path)))

    assert list(generators) == ["NORMAL"]  # the smaller class only
    synthetic_set, pngs = generate_synthetic_images(generators, train_set(), CLASSES, checked(synthesis_parameters(tmp_path)), 24)

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
    synthetic_set, pngs = generate_synthetic_images({"NORMAL": generator}, balanced, CLASSES, checked(synthesis_parameters(tmp_path)), 24)

    assert synthetic_set["images"].shape == (0, 24, 24) and len(synthetic_set["paths"]) == 0
    assert pngs == {}


def test_the_improved_gan_trains_and_generates_images_in_range(tmp_path):
    generators, histories = train_gan(train_set(), CLASSES, checked(improved_parameters(tmp_path)))

    generator, history = generators["NORMAL"], histories["NORMAL"]
    assert history["iteration"] == [2, 4]
    assert np.isfinite(history["discriminator_loss"] + history["generator_loss"]).all()
    generated = generator.predict(np.random.default_rng(0).uniform(-1, 1, (5, 8)), verbose=0)
    assert generated.shape == (5, 16, 16, 1) and generated.min() >= 0 and generated.max() <= 1
    synthetic_set, _ = generate_synthetic_images(generators, train_set(), CLASSES, checked(improved_parameters(tmp_path)), 24)
    assert synthetic_set["images"].shape == (4, 24, 24)


def test_the_loss_plot_has_one_panel_per_class_and_one_line_per_model():
    history = {"iteration": [2, 4], "discriminator_loss": [0.7, 0.6], "generator_loss": [0.8, 0.9]}
    figure = plot_gan_losses({"NORMAL": history, "VIRUS": history})
    assert [axes.get_title() for axes in figure.axes] == ["DCGAN losses, NORMAL", "DCGAN losses, VIRUS"]
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["discriminator loss", "generator loss"]


def three_class_train_set() -> dict:
    """6 NORMAL, 10 BACTERIA and 7 VIRUS random images."""
    image_set = random_image_set(normal=6, pneumonia=17, size=24)
    return {**image_set, "labels": np.array([0] * 6 + [1] * 10 + [2] * 7, dtype=np.uint8)}


def test_three_classes_get_a_generator_per_smaller_class_and_its_gap_of_images(tmp_path):
    synthesis = checked(synthesis_parameters(tmp_path))

    generators, histories = train_gan(three_class_train_set(), SUBTYPE_CLASSES, synthesis)
    synthetic_set, pngs = generate_synthetic_images(generators, three_class_train_set(), SUBTYPE_CLASSES, synthesis, 24)

    assert list(generators) == list(histories) == ["NORMAL", "VIRUS"]
    assert sorted(folder.name for folder in (tmp_path / "checkpoint/tiny").iterdir()) == ["NORMAL", "VIRUS"]
    assert synthetic_set["labels"].tolist() == [0] * 4 + [2] * 3  # 10 - 6 NORMAL, 10 - 7 VIRUS
    assert synthetic_set["images"].shape == (7, 24, 24)
    assert sorted(pngs) == [f"synthetic_normal_{i:05d}" for i in range(4)] + [f"synthetic_virus_{i:05d}" for i in range(3)]


def test_generators_that_miss_a_class_the_training_set_needs_are_refused(tmp_path):
    generator = build_generator(16, 8, tiny_profile()["generator"])
    with pytest.raises(ValueError, match=r"needs synthetic \['VIRUS'\] images but the saved generators are for \['NORMAL'\]"):
        generate_synthetic_images({"NORMAL": generator}, three_class_train_set(), SUBTYPE_CLASSES, checked(synthesis_parameters(tmp_path)), 24)
