"""Class balancing of the training set: none (baseline) or classic augmentation of minority classes."""

import logging

import numpy as np

from ...imaging.augment import random_affine_matrix
from ...imaging.shifts import affine

logger = logging.getLogger(__name__)

REAL_IMAGE_STRATEGIES = ("none", "augmentation")
SYNTHETIC_IMAGE_STRATEGIES = ("gan", "combined")


def check_balancing_parameters(balancing: dict, strategies: tuple[str, ...] = REAL_IMAGE_STRATEGIES + SYNTHETIC_IMAGE_STRATEGIES) -> None:
    """Raise a ValueError naming the fix if a strategy's balancing parameters are unusable."""
    strategy = balancing.get("strategy")
    if strategy not in strategies:
        raise ValueError(
            f"Unknown balancing strategy '{strategy}' here. Use one of {strategies} "
            "in conf/base/parameters_balancing.yml."
        )
    if strategy == "combined" and not 0 <= balancing["synthetic_share"] <= 1:
        raise ValueError(f"combined.balancing.synthetic_share must be in [0, 1], got {balancing['synthetic_share']}.")


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
        augmented[index] = affine(images[source], random_affine_matrix(rng, size, augmentation))
    return augmented, sources


def augmented_class_images(
    train_set: dict, label: int, count: int, augmentation: dict, rng: np.random.Generator
) -> dict:
    """An image set of ``count`` augmented copies of the class-``label`` training images.

    Their ``paths`` read ``augmented:<source path>``.
    """
    members = np.flatnonzero(train_set["labels"] == label)
    augmented, sources = augment_images(train_set["images"][members], count, augmentation, rng)
    return {
        "images": augmented,
        "labels": np.full(count, label, dtype=train_set["labels"].dtype),
        "paths": np.char.add("augmented:", train_set["paths"][members][sources].astype(str)),
    }


def concatenate_image_sets(image_sets: list[dict]) -> dict:
    """One image set holding the images of all ``image_sets``, in order."""
    return {name: np.concatenate([image_set[name] for image_set in image_sets]) for name in ("images", "labels", "paths")}


def balance_training_set(train_set: dict, balancing: dict) -> dict:
    """Balance the training set with real images only.

    - ``none``: the training set unchanged (the paper's baseline).
    - ``augmentation``: each class is topped up to the size of the largest class with augmented
      copies of its own images (the paper's classic augmentation).

    Only the training set ever reaches this node: validation and test are never balanced.
    """
    check_balancing_parameters(balancing, REAL_IMAGE_STRATEGIES)
    class_counts = np.bincount(train_set["labels"])
    if balancing["strategy"] == "none":
        logger.info("Training set left unbalanced: %s images per class.", class_counts.tolist())
        return train_set

    rng = np.random.default_rng(balancing["seed"])
    target = int(class_counts.max())
    extra = [
        augmented_class_images(train_set, label, target - int(count), balancing["augmentation"], rng)
        for label, count in enumerate(class_counts)
    ]
    logger.info("Augmented images per class: %s.", [len(image_set["labels"]) for image_set in extra])
    return concatenate_image_sets([train_set, *extra])


def balance_with_synthetic_images(train_set: dict, synthetic_set: dict, balancing: dict) -> dict:
    """Balance the training set with GAN images of the class they were made for.

    - ``gan``: that class is topped up with synthetic images to the size of the largest class.
    - ``combined`` (the paper's best recipe): every class grows to ``target_scale`` times the
      largest class; the synthetic class gets ``synthetic_share`` of its gap from GAN images and
      the rest from augmentation, the other classes from augmentation only.
    """
    check_balancing_parameters(balancing, SYNTHETIC_IMAGE_STRATEGIES)
    class_counts = np.bincount(train_set["labels"])
    synthetic_label = int(synthetic_set["labels"][0]) if len(synthetic_set["labels"]) else None
    rng = np.random.default_rng(balancing["seed"])
    if balancing["strategy"] == "gan":
        target = int(class_counts.max())
        synthetic_share = 1.0
    else:
        target = round(balancing["target_scale"] * int(class_counts.max()))
        synthetic_share = balancing["synthetic_share"]

    parts = [train_set]
    for label, count in enumerate(class_counts):
        gap = max(target - int(count), 0)
        from_gan = round(synthetic_share * gap) if label == synthetic_label else 0
        if from_gan > len(synthetic_set["labels"]):
            raise ValueError(
                f"Strategy '{balancing['strategy']}' needs {from_gan} synthetic images of class "
                f"{label} but the synthesis made {len(synthetic_set['labels'])}. Lower "
                "synthetic_share or target_scale in conf/base/parameters_balancing.yml."
            )
        parts.append({name: values[:from_gan] for name, values in synthetic_set.items()})
        if gap > from_gan:
            parts.append(augmented_class_images(train_set, label, gap - from_gan, balancing["augmentation"], rng))
        logger.info("Class %d: %d real + %d synthetic + %d augmented images.", label, count, from_gan, gap - from_gan)
    return concatenate_image_sets(parts)
