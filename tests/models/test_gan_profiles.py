from pathlib import Path

import pytest
import yaml

from pediatric_pneumonia.models.gan_profiles import select_gan_profile
from tests.models.gan_parameters import improved_parameters, improved_profile, synthesis_parameters, tiny_profile

BASE_PARAMETERS = Path(__file__).parents[2] / "conf" / "base" / "parameters_synthesis.yml"


def test_unknown_profile_is_named(tmp_path):
    parameters = {**synthesis_parameters(tmp_path), "profile": "huge"}
    with pytest.raises(ValueError, match="Unknown GAN profile 'huge'.*tiny"):
        select_gan_profile(parameters)


def test_resolution_the_generator_cannot_make_is_refused(tmp_path):
    with pytest.raises(ValueError, match="image_size 18 cannot be produced.*multiple of 4"):
        select_gan_profile(synthesis_parameters(tmp_path, image_size=18))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss": "wasserstein"}, r"synthesis.profiles.tiny.loss 'wasserstein': use one of \('bce', 'hinge'\)"),
        ({"optimizer": "sgd"}, r"synthesis.profiles.tiny.optimizer 'sgd': use one of \('rmsprop', 'adam'\)"),
        ({"beta_1": None}, r"synthesis.profiles.tiny: optimizer adam needs beta_1 and beta_2"),
        ({"optimizer": "rmsprop"}, r"synthesis.profiles.tiny: \['beta_1', 'beta_2'\] are Adam's settings"),
        ({"generator": {**improved_profile()["generator"], "ema": 1.0}}, r"tiny.generator.ema must be a momentum .* or null"),
        ({"discriminator": {**improved_profile()["discriminator"], "spectral_norm": "yes"}}, r"spectral_norm must be true or false"),
        (
            {"discriminator": {**improved_profile()["discriminator"], "diff_augment": ["color", "flip"]}},
            r"tiny.discriminator.diff_augment.1 'flip': use one of \('color', 'translation', 'cutout'\)",
        ),
    ],
)
def test_unusable_method_settings_are_named(tmp_path, change, message):
    with pytest.raises(ValueError, match=message + r"(.|\n)*Set in conf/base/parameters_synthesis.yml"):
        select_gan_profile(improved_parameters(tmp_path, **change))


def test_a_profile_without_the_method_settings_is_told_which_to_set(tmp_path):
    profile = tiny_profile()
    del profile["loss"], profile["discriminator"]["diff_augment"]
    parameters = {**synthesis_parameters(tmp_path), "profiles": {"tiny": profile}}
    with pytest.raises(ValueError, match=r"tiny.loss is missing: set it to one of \('bce', 'hinge'\)\.\n.*diff_augment is missing"):
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
