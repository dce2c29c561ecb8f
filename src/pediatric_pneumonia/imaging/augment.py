"""Random image transforms: the paper's offline affine augmentation (balancing) and the online
geometric + photometric augmentation applied to every training batch (training)."""

import numpy as np

from . import shifts

MAX_MARKERS = 4  # the most marks the augmentation burns into one image (the stress report's severity 3)


def random_affine_matrix(rng: np.random.Generator, image_size: int, augmentation: dict) -> np.ndarray:
    """Draw one 2x3 affine transform about the image centre, as Keras' ImageDataGenerator does.

    ``rotation_range`` and ``shear_range`` are in degrees, the shift ranges are fractions of the
    image side and ``zoom_range`` r draws independent x and y zooms from [1 - r, 1 + r].
    """
    rotation = np.deg2rad(rng.uniform(-augmentation["rotation_range"], augmentation["rotation_range"]))
    shear = np.deg2rad(rng.uniform(-augmentation["shear_range"], augmentation["shear_range"]))
    shift_x = rng.uniform(-augmentation["width_shift_range"], augmentation["width_shift_range"]) * image_size
    shift_y = rng.uniform(-augmentation["height_shift_range"], augmentation["height_shift_range"]) * image_size
    zoom_x, zoom_y = rng.uniform(1 - augmentation["zoom_range"], 1 + augmentation["zoom_range"], size=2)

    rotate = np.array([[np.cos(rotation), -np.sin(rotation), 0], [np.sin(rotation), np.cos(rotation), 0], [0, 0, 1]])
    shear_matrix = np.array([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
    zoom = np.diag([zoom_x, zoom_y, 1.0])
    centre = (image_size - 1) / 2
    to_origin = np.array([[1, 0, -centre], [0, 1, -centre], [0, 0, 1]])
    back_and_shift = np.array([[1, 0, centre + shift_x], [0, 1, centre + shift_y], [0, 0, 1]])
    return (back_and_shift @ rotate @ shear_matrix @ zoom @ to_origin)[:2]


def augment_image(image: np.ndarray, augmentation: dict, rng: np.random.Generator) -> np.ndarray:
    """One random geometric then photometric variant of a 2-D uint8 image (same shape and dtype).

    Brightness delta, contrast factor, gamma exponent, blur sigma, unsharp-mask amount and noise
    level are drawn uniformly from [-b, b], [1 - c, 1 + c], [1 / (1 + g), 1 + g], [0, blur_sigma],
    [0, sharpen] and [0, noise_std]; the photometric transforms are the acquisition shifts of the
    stress report. With probability ``marker_rate`` the image then gets 1 to 4 burned-in marks
    (``shifts.markers``) whatever its class, so marks stop telling one class from the other.
    Blurring and sharpening every image at random does the same for sharpness.
    """
    image = shifts.affine(image, random_affine_matrix(rng, image.shape[0], augmentation))
    image = shifts.brightness(image, rng.uniform(-augmentation["brightness"], augmentation["brightness"]), rng)
    image = shifts.contrast(image, rng.uniform(1 - augmentation["contrast"], 1 + augmentation["contrast"]), rng)
    image = shifts.gamma(image, rng.uniform(1 / (1 + augmentation["gamma"]), 1 + augmentation["gamma"]), rng)
    image = shifts.blur(image, rng.uniform(0, augmentation["blur_sigma"]), rng)
    image = shifts.sharpen(image, rng.uniform(0, augmentation["sharpen"]), rng)
    image = shifts.noise(image, rng.uniform(0, augmentation["noise_std"]), rng)
    if rng.random() < augmentation["marker_rate"]:
        image = shifts.markers(image, int(rng.integers(1, MAX_MARKERS + 1)), rng)
    return image


def augment_batch(images: np.ndarray, augmentation: dict, rng: np.random.Generator) -> np.ndarray:
    """Augment every image of an ``(N, H, W)`` uint8 batch independently; unchanged when disabled."""
    if not augmentation["enabled"]:
        return images
    return np.stack([augment_image(image, augmentation, rng) for image in images])
