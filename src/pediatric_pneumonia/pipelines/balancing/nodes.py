"""Class balancing of the training set: none (baseline) or classic augmentation of minority classes."""

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

BALANCING_STRATEGIES = ("none", "augmentation")


def check_balancing_parameters(balancing: dict) -> None:
    """Raise a ValueError naming the fix if a strategy's balancing parameters are unusable."""
    strategy = balancing.get("strategy")
    if strategy not in BALANCING_STRATEGIES:
        raise ValueError(
            f"Unknown balancing strategy '{strategy}'. Use one of {BALANCING_STRATEGIES} "
            "in conf/base/parameters_balancing.yml."
        )


def random_affine_matrix(
    rng: np.random.Generator, image_size: int, augmentation: dict
) -> np.ndarray:
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


def augment_images(
    images: np.ndarray, count: int, augmentation: dict, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Make ``count`` randomly transformed copies of images drawn from ``images``.

    Returns the new images and the index of the source image of each.
    """
    size = images.shape[1]
    sources = rng.integers(0, len(images), size=count)
    augmented = np.empty((count, size, size), dtype=images.dtype)
    for index, source in enumerate(sources):
        augmented[index] = cv2.warpAffine(
            images[source],
            random_affine_matrix(rng, size, augmentation),
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,  # Keras' fill_mode="nearest"
        )
    return augmented, sources


def balance_training_set(train_set: dict, balancing: dict) -> dict:
    """Balance the training set with the configured strategy.

    - ``none``: the training set unchanged (the paper's baseline).
    - ``augmentation``: each class is topped up to the size of the largest class with augmented
      copies of its own images (the paper's classic augmentation). Augmented images keep the
      image set schema; their ``paths`` read ``augmented:<source path>``.

    Only the training set ever reaches this node: validation and test are never balanced.
    """
    check_balancing_parameters(balancing)
    strategy = balancing["strategy"]
    labels = train_set["labels"]
    class_counts = np.bincount(labels)
    if strategy == "none":
        logger.info("Training set left unbalanced: %s images per class.", class_counts.tolist())
        return train_set

    rng = np.random.default_rng(balancing["seed"])
    target = int(class_counts.max())
    images, new_labels, paths = [train_set["images"]], [labels], [train_set["paths"]]
    for label, count in enumerate(class_counts):
        if count >= target:
            continue
        members = np.flatnonzero(labels == label)
        augmented, sources = augment_images(
            train_set["images"][members], target - int(count), balancing["augmentation"], rng
        )
        images.append(augmented)
        new_labels.append(np.full(len(augmented), label, dtype=labels.dtype))
        paths.append(np.char.add("augmented:", train_set["paths"][members][sources].astype(str)))
        logger.info("Class %d: %d real + %d augmented images.", label, count, len(augmented))
    return {
        "images": np.concatenate(images),
        "labels": np.concatenate(new_labels),
        "paths": np.concatenate(paths),
    }
