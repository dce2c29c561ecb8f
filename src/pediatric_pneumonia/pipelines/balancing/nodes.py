"""Class balancing of the training set, as the strategy table (``strategies.py``) says each strategy does it."""

import logging

import numpy as np

from ...class_balance import balancing_targets, check_synthetic_supply, synthesised_labels
from ...imaging.augment import random_affine_matrix
from ...imaging.shifts import affine
from ...strategies import strategy_named

logger = logging.getLogger(__name__)


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Per-image loss weights, inverse to the frequency of the image's class, with mean 1 over images."""
    class_counts = np.bincount(labels)
    present = np.count_nonzero(class_counts)
    per_class = len(labels) / (present * np.maximum(class_counts, 1))
    return per_class[labels].astype(np.float32)


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


def repeated_class_images(train_set: dict, label: int, count: int, rng: np.random.Generator) -> dict:
    """``count`` unchanged repeats of the class-``label`` training images: every image is drawn once
    before any is drawn twice. Their ``paths`` read ``oversampled:<source path>``."""
    members = np.flatnonzero(train_set["labels"] == label)
    passes = -(-count // len(members)) if count else 0
    sources = np.concatenate([rng.permutation(members) for _ in range(passes)] or [members[:0]])[:count]
    return {
        "images": train_set["images"][sources],
        "labels": train_set["labels"][sources],
        "paths": np.char.add("oversampled:", train_set["paths"][sources].astype(str)),
    }


def concatenate_image_sets(image_sets: list[dict]) -> dict:
    """One image set holding the images of all ``image_sets``, in order."""
    return {name: np.concatenate([image_set[name] for image_set in image_sets]) for name in ("images", "labels", "paths")}


def balance_training_set(train_set: dict, balancing: dict, strategy: str) -> dict:
    """Balance the training set with real images only, as the strategy table says ``strategy`` does.

    - ``none``: the training set unchanged; with a class-weighted loss (``class_weight``) it also
      carries per-image ``weights`` (inverse class frequency, mean 1) that training applies.
    - ``augmentation``: each class topped up to the size of the largest class with augmented
      copies of its own images (the paper's classic augmentation).
    - ``oversample``: each class topped up to the size of the largest class with repeats of its
      own real images.

    Only the training set ever reaches this node: validation and test are never balanced.
    """
    chosen = strategy_named(strategy)
    if chosen.uses_synthetic_images:
        raise ValueError(
            f"Strategy '{chosen.name}' balances with synthetic images: build its pipeline with "
            "balancing.create_pipeline(strategy) so it reads them."
        )
    class_counts = np.bincount(train_set["labels"])
    if chosen.balancing == "none":
        logger.info("Training set left unbalanced: %s images per class.", class_counts.tolist())
        if chosen.weights_loss_by_class:
            weights = class_weights(train_set["labels"])
            logger.info("Loss weights per class: %s.", [float(weights[train_set["labels"] == label][0]) for label in np.unique(train_set["labels"])])
            return {**train_set, "weights": weights}
        return train_set

    rng = np.random.default_rng(balancing["seed"])
    target = int(class_counts.max())
    if chosen.balancing == "oversample":
        extra = [repeated_class_images(train_set, label, target - int(count), rng) for label, count in enumerate(class_counts)]
    else:
        extra = [
            augmented_class_images(train_set, label, target - int(count), balancing["augmentation"], rng)
            for label, count in enumerate(class_counts)
        ]
    logger.info("%s images per class: %s.", chosen.balancing.capitalize(), [len(image_set["labels"]) for image_set in extra])
    return concatenate_image_sets([train_set, *extra])


def balance_with_synthetic_images(train_set: dict, synthetic_set: dict, balancing: dict, strategy: str) -> dict:
    """Balance the training set with GAN images of each class they were made for, as ``strategy`` does.

    - ``synthetic`` (``gan``): each class smaller than the largest is topped up with its synthetic
      images to the size of the largest class.
    - ``synthetic_and_augmentation`` (``combined``, the paper's best recipe): every class grows to
      ``target_scale`` times the largest class; a smaller class gets ``synthetic_share`` of its gap
      from its synthetic images and the rest from augmentation, the largest from augmentation only.

    Raises:
        ValueError: when a smaller class has fewer synthetic images than the strategy takes.
    """
    chosen = strategy_named(strategy)
    class_counts = np.bincount(train_set["labels"])
    rng = np.random.default_rng(balancing["seed"])
    target, _ = balancing_targets(chosen, balancing, class_counts)

    parts = [train_set]
    synthesised = synthesised_labels(class_counts)
    for label, count in enumerate(class_counts):
        gap = max(target - int(count), 0)
        synthetic = np.flatnonzero(synthetic_set["labels"] == label)
        from_gan = 0
        if label in synthesised:
            from_gan = check_synthetic_supply(chosen.name, balancing, class_counts, label, len(synthetic))
        parts.append({name: synthetic_set[name][synthetic[:from_gan]] for name in ("images", "labels", "paths")})
        if gap > from_gan:
            parts.append(augmented_class_images(train_set, label, gap - from_gan, balancing["augmentation"], rng))
        logger.info("Class %d: %d real + %d synthetic + %d augmented images.", label, count, from_gan, gap - from_gan)
    return concatenate_image_sets(parts)
