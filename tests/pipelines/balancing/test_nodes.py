import numpy as np
import pytest

from pediatric_pneumonia.imaging.augment import random_affine_matrix
from pediatric_pneumonia.pipelines.balancing.nodes import (
    balance_training_set,
    balance_with_synthetic_images,
    class_weights,
)
from tests.conftest import random_image_set

PAPER_AUGMENTATION = {
    "rotation_range": 35,
    "width_shift_range": 0.1,
    "height_shift_range": 0.08,
    "shear_range": 0.2,
    "zoom_range": 0.2,
}
NO_CHANGE = {name: 0.0 for name in PAPER_AUGMENTATION}


def imbalanced_set() -> dict:
    return random_image_set(normal=5, pneumonia=12, size=20)


def test_baseline_passes_the_training_set_through():
    train_set = imbalanced_set()
    assert balance_training_set(train_set, {}, strategy="baseline") is train_set


def test_augmentation_tops_up_the_minority_class_to_the_majority():
    train_set = imbalanced_set()
    balanced = balance_training_set(train_set, {"seed": 1, "augmentation": PAPER_AUGMENTATION}, strategy="augmentation")

    assert np.bincount(balanced["labels"]).tolist() == [12, 12]
    assert balanced["images"].shape == (24, 20, 20) and balanced["images"].dtype == np.uint8
    np.testing.assert_array_equal(balanced["images"][:17], train_set["images"])
    new_paths = balanced["paths"][17:]
    assert all(path.startswith("augmented:/raw/") for path in new_paths)
    sources = {int(path.rsplit("/", 1)[1].split(".")[0]) for path in new_paths}
    assert sources <= set(range(5)), "only NORMAL images may be sources of NORMAL augmentations"


def test_augmentation_is_deterministic_given_the_seed():
    parameters = {"seed": 7, "augmentation": PAPER_AUGMENTATION}
    first = balance_training_set(imbalanced_set(), parameters, strategy="augmentation")
    second = balance_training_set(imbalanced_set(), parameters, strategy="augmentation")
    np.testing.assert_array_equal(first["images"], second["images"])
    other = balance_training_set(imbalanced_set(), {**parameters, "seed": 8}, strategy="augmentation")
    assert not np.array_equal(first["images"][17:], other["images"][17:])


def test_zero_ranges_give_the_identity_transform():
    matrix = random_affine_matrix(np.random.default_rng(0), 32, NO_CHANGE)
    np.testing.assert_allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_rotation_stays_within_its_range():
    rng = np.random.default_rng(0)
    only_rotation = {**NO_CHANGE, "rotation_range": 35}
    angles = [np.degrees(np.arctan2(m[1, 0], m[0, 0])) for m in (random_affine_matrix(rng, 32, only_rotation) for _ in range(200))]
    assert max(np.abs(angles)) <= 35
    assert max(np.abs(angles)) > 25


def test_unknown_strategy_is_a_clear_error_listing_the_table():
    with pytest.raises(ValueError, match=r"Unknown balancing strategy 'smote'(.|\n)*oversample: "):
        balance_training_set(imbalanced_set(), {}, strategy="smote")
    with pytest.raises(ValueError, match="Strategy 'gan' balances with synthetic images"):
        balance_training_set(imbalanced_set(), {"seed": 1}, strategy="gan")


def test_class_weight_keeps_the_images_and_weights_by_inverse_class_frequency():
    train_set = imbalanced_set()
    balanced = balance_training_set(train_set, {}, strategy="class_weight")

    for name in ("images", "labels", "paths"):
        np.testing.assert_array_equal(balanced[name], train_set[name])
    # 17 images, 5 NORMAL and 12 PNEUMONIA: weight 17 / (2 x count) per class.
    np.testing.assert_allclose(balanced["weights"][:5], 17 / 10)
    np.testing.assert_allclose(balanced["weights"][5:], 17 / 24)
    assert balanced["weights"].mean() == pytest.approx(1.0)
    assert balanced["weights"].dtype == np.float32


def test_class_weights_of_a_balanced_set_are_all_one():
    np.testing.assert_allclose(class_weights(np.array([0, 1, 1, 0])), 1.0)


def test_oversample_repeats_real_minority_images_until_the_classes_are_equal():
    train_set = imbalanced_set()
    balanced = balance_training_set(train_set, {"seed": 3}, strategy="oversample")

    assert np.bincount(balanced["labels"]).tolist() == [12, 12]
    np.testing.assert_array_equal(balanced["images"][:17], train_set["images"])
    added = balanced["paths"][17:]
    assert all(path.startswith("oversampled:/raw/") for path in added)
    sources = [int(path.rsplit("/", 1)[1].split(".")[0]) for path in added]
    assert sorted(sources[:5]) == list(range(5)), "every NORMAL image is repeated once before any twice"
    assert set(sources) <= set(range(5))
    for source, image in zip(sources, balanced["images"][17:]):
        np.testing.assert_array_equal(image, train_set["images"][source])
    assert "weights" not in balanced


def test_oversample_is_deterministic_given_the_seed():
    first = balance_training_set(imbalanced_set(), {"seed": 3}, strategy="oversample")
    second = balance_training_set(imbalanced_set(), {"seed": 3}, strategy="oversample")
    other = balance_training_set(imbalanced_set(), {"seed": 4}, strategy="oversample")
    np.testing.assert_array_equal(first["paths"], second["paths"])
    assert not np.array_equal(first["paths"][17:], other["paths"][17:])


def synthetic_set(counts: dict[int, int], size: int = 20) -> dict:
    """``counts[label]`` synthetic images of each label, every pixel 7 + label."""
    labels = np.repeat(np.array(list(counts), dtype=np.uint8), list(counts.values()))
    return {
        "images": np.stack([np.full((size, size), 7 + label, dtype=np.uint8) for label in labels]).reshape(-1, size, size),
        "labels": labels,
        "paths": np.array([f"synthetic:cpu/synthetic_{label}_{i:05d}" for i, label in enumerate(labels)]),
    }


def synthetic_normal_set(count: int, size: int = 20) -> dict:
    return synthetic_set({0: count}, size)


def three_class_set() -> dict:
    """5 NORMAL, 12 BACTERIA and 8 VIRUS random images."""
    image_set = random_image_set(normal=5, pneumonia=20, size=20)
    return {**image_set, "labels": np.array([0] * 5 + [1] * 12 + [2] * 8, dtype=np.uint8)}


def test_gan_strategy_tops_up_with_synthetic_images_only():
    balanced = balance_with_synthetic_images(imbalanced_set(), synthetic_normal_set(7), {"seed": 1}, strategy="gan")

    assert np.bincount(balanced["labels"]).tolist() == [12, 12]
    added = balanced["paths"][17:]
    assert all(path.startswith("synthetic:") for path in added)
    assert (balanced["images"][17:] == 7).all()


def test_combined_strategy_follows_the_recipe():
    parameters = {
        "seed": 1,
        "target_scale": 1.5,
        "synthetic_share": 0.5,
        "augmentation": PAPER_AUGMENTATION,
    }
    balanced = balance_with_synthetic_images(imbalanced_set(), synthetic_normal_set(10), parameters, strategy="combined")

    # target 1.5 x 12 = 18 per class: NORMAL 5 real + 6 synthetic + 7 augmented, PNEUMONIA 12 + 6 augmented
    assert np.bincount(balanced["labels"]).tolist() == [18, 18]
    normal_paths = balanced["paths"][balanced["labels"] == 0]
    assert sum(path.startswith("synthetic:") for path in normal_paths) == 6
    assert sum(path.startswith("augmented:") for path in normal_paths) == 7
    pneumonia_paths = balanced["paths"][balanced["labels"] == 1]
    assert sum(path.startswith("augmented:") for path in pneumonia_paths) == 6
    assert not any(path.startswith("synthetic:") for path in pneumonia_paths)


def test_too_few_synthetic_images_is_a_clear_error():
    with pytest.raises(ValueError, match="needs 7 synthetic images but the synthesis makes 3"):
        balance_with_synthetic_images(imbalanced_set(), synthetic_normal_set(3), {"seed": 1}, strategy="gan")


def test_gan_strategy_tops_up_every_smaller_class_with_its_own_synthetic_images():
    balanced = balance_with_synthetic_images(three_class_set(), synthetic_set({0: 7, 2: 4}), {"seed": 1}, strategy="gan")

    assert np.bincount(balanced["labels"]).tolist() == [12, 12, 12]
    added_images, added_labels = balanced["images"][25:], balanced["labels"][25:]
    assert added_labels.tolist() == [0] * 7 + [2] * 4
    assert all((image == 7 + label).all() for image, label in zip(added_images, added_labels))  # each class its own


def test_combined_strategy_on_three_classes_follows_the_recipe_per_class():
    parameters = {"seed": 1, "target_scale": 1.25, "synthetic_share": 0.5, "augmentation": PAPER_AUGMENTATION}
    balanced = balance_with_synthetic_images(three_class_set(), synthetic_set({0: 7, 2: 4}), parameters, strategy="combined")

    # target 15: NORMAL 5 + 5 synthetic + 5 augmented, BACTERIA 12 + 3 augmented, VIRUS 8 + 4 synthetic + 3 augmented
    assert np.bincount(balanced["labels"]).tolist() == [15, 15, 15]
    for label, synthetic, augmented in ((0, 5, 5), (1, 0, 3), (2, 4, 3)):
        paths = balanced["paths"][balanced["labels"] == label]
        assert sum(path.startswith("synthetic:") for path in paths) == synthetic
        assert sum(path.startswith("augmented:") for path in paths) == augmented


def test_a_smaller_class_without_its_synthetic_images_is_a_clear_error():
    with pytest.raises(ValueError, match=r"needs 4 synthetic images but the synthesis makes 0 \(largest class - class 2"):
        balance_with_synthetic_images(three_class_set(), synthetic_set({0: 7}), {"seed": 1}, strategy="gan")
