"""Rules that span parameter groups, checked before the first node runs (hooks.py) and by the
library functions a user may call outside Kedro."""

from collections.abc import Collection

from ..choices import ARCHITECTURE_FAMILIES
from .errors import OVERRIDE_NOTE, ParameterError
from .registry import file_of
from .schemas import Architecture, Study


def smallest_image_side(architecture: Architecture) -> int:
    """The smallest image side (pixels) ``architecture`` can classify: each paper block's valid
    convolution and pooling must leave at least one pixel; the other families have a fixed minimum."""
    minimum = ARCHITECTURE_FAMILIES[architecture.family]
    if minimum is not None:
        return minimum
    side = 1
    while True:
        remaining = side
        for _ in architecture.conv_filters:
            remaining = (remaining - architecture.kernel_size + 1) // architecture.pool_size
        if remaining >= 1:
            return side
        side += 1


def check_image_side(architecture: Architecture, image_side: int, where: str = "training.architecture") -> None:
    """Raise a ParameterError if ``architecture`` cannot classify ``image_side``-pixel images."""
    smallest = smallest_image_side(architecture)
    if image_side < smallest:
        raise ParameterError(
            f"{where} (family '{architecture.family}') needs images of at least {smallest} x {smallest} pixels, but "
            f"preprocessing.image_size is {image_side}: raise preprocessing.image_size "
            f"({file_of('preprocessing')}) or choose another family or fewer conv blocks ({file_of('training')}); "
            f"{OVERRIDE_NOTE}."
        )


def check_study_gan_profiles(study: Study, gan_profiles: Collection[str]) -> None:
    """Raise a ParameterError if ``study.gan_profiles`` names a profile that ``gan_profiles`` (the
    names of ``synthesis.profiles``) lacks."""
    known = sorted(gan_profiles)
    unknown = [profile for profile in study.gan_profiles or [] if profile not in known]
    if unknown:
        raise ParameterError(
            f"study.gan_profiles names unknown GAN profiles {unknown}. Use some of {known} (synthesis.profiles). "
            f"Set in {file_of('study')}; {OVERRIDE_NOTE}."
        )
