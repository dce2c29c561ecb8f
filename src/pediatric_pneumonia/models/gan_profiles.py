"""The GAN profiles of ``synthesis.profiles`` (conf/base/parameters_synthesis.yml): choosing one and
checking it, so that a GAN training cannot fail half-way on a setting."""

import math

from ..imaging.diff_augment import DIFF_AUGMENT_POLICIES
from .dcgan import GAN_LOSSES, OPTIMIZERS

ADAM_BETAS = ("beta_1", "beta_2")
# The settings every profile states; the paper's DCGAN is the first value of each.
METHOD_SETTINGS = {
    "loss": "bce | hinge",
    "optimizer": "rmsprop | adam",
    "generator.ema": "null | a momentum such as 0.999",
    "discriminator.spectral_norm": "false | true",
    "discriminator.diff_augment": f"[] | some of {list(DIFF_AUGMENT_POLICIES)}",
}


def select_gan_profile(synthesis: dict) -> dict:
    """The GAN profile named by ``synthesis.profile``, checked so training cannot fail half-way.

    Raises:
        ValueError: for an unknown profile or a resolution the generator cannot produce.
    """
    name = synthesis["profile"]
    profiles = synthesis["profiles"]
    if name not in profiles:
        raise ValueError(
            f"Unknown GAN profile '{name}'. Use one of {sorted(profiles)} "
            "(synthesis.profile in conf/base/parameters_synthesis.yml)."
        )
    profile = profiles[name]
    upsampling = math.prod(profile["generator"]["strides"])
    if profile["image_size"] % upsampling:
        raise ValueError(
            f"GAN profile '{name}': image_size {profile['image_size']} cannot be produced by a "
            f"generator whose strides {profile['generator']['strides']} upsample by {upsampling}. "
            f"Use a multiple of {upsampling}."
        )
    if len(profile["generator"]["filters"]) != len(profile["generator"]["strides"]):
        raise ValueError(f"GAN profile '{name}': generator filters and strides need the same length.")
    check_gan_method(name, profile)
    return profile


def check_gan_method(name: str, profile: dict) -> None:
    """Raise a ValueError naming the key and the fix for a missing or unusable method setting
    (loss, optimizer, generator averaging, spectral normalisation, DiffAugment)."""
    where = f"GAN profile '{name}' (synthesis.profiles.{name} in conf/base/parameters_synthesis.yml)"
    missing = [key for key in METHOD_SETTINGS if key.split(".")[-1] not in setting_group(profile, key)]
    if missing:
        choices = "; ".join(f"{key}: {METHOD_SETTINGS[key]}" for key in missing)
        raise ValueError(f"{where} lacks {missing}. Set them ({choices}); the paper's DCGAN is the first of each.")
    if profile["loss"] not in GAN_LOSSES:
        raise ValueError(f"{where}: unknown loss '{profile['loss']}'. Use one of {list(GAN_LOSSES)}.")
    if profile["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"{where}: unknown optimizer '{profile['optimizer']}'. Use one of {list(OPTIMIZERS)}.")
    betas = [key for key in ADAM_BETAS if key in profile]
    if profile["optimizer"] == "adam" and not all(is_fraction(profile.get(key)) for key in ADAM_BETAS):
        raise ValueError(f"{where}: optimizer adam needs beta_1 and beta_2 in [0, 1), e.g. 0.0 and 0.9.")
    if profile["optimizer"] != "adam" and betas:
        raise ValueError(f"{where}: {betas} are Adam's settings; remove them or set optimizer: adam.")
    ema = profile["generator"]["ema"]
    if ema is not None and not (is_fraction(ema) and ema > 0):
        raise ValueError(f"{where}: generator.ema must be null or a momentum in (0, 1) such as 0.999, got {ema}.")
    if not isinstance(profile["discriminator"]["spectral_norm"], bool):
        raise ValueError(f"{where}: discriminator.spectral_norm must be true or false.")
    policies = profile["discriminator"]["diff_augment"]
    if not isinstance(policies, list) or not set(policies) <= set(DIFF_AUGMENT_POLICIES):
        raise ValueError(
            f"{where}: unknown discriminator.diff_augment {policies}. Use a list of some of "
            f"{list(DIFF_AUGMENT_POLICIES)}, or [] for none."
        )


def is_fraction(value) -> bool:
    """Whether ``value`` is a number in [0, 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1


def setting_group(profile: dict, key: str) -> dict:
    """The part of ``profile`` that holds the dotted setting ``key`` (the profile or one model)."""
    return profile[key.split(".")[0]] if "." in key else profile
