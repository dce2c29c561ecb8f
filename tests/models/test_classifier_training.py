"""Mixup and cutmix of the training batches: convex combinations of two images of the batch whose
labels (and weights) are mixed by the same share, repeatable with the seed, and nothing when off."""

import numpy as np
import pytest

from pediatric_pneumonia.imaging.augment import augment_batch
from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier_training import TrainingBatches
from tests.conftest import ONLINE_AUGMENTATION

PLAIN = {"method": "none"}
UNAUGMENTED = {**ONLINE_AUGMENTATION, "enabled": False}


def one_hot_set(count: int, side: int) -> dict:
    """Image k is 255 at pixel k and 0 elsewhere, so a mixed image shows how much of each it holds."""
    images = np.zeros((count, side * side), dtype=np.uint8)
    images[np.arange(count), np.arange(count)] = 255
    labels = (np.arange(count) % 3 == 0).astype(np.uint8)
    return {"images": images.reshape(count, side, side), "labels": labels, "weights": np.linspace(0.5, 2.0, count)}


def flat_set(count: int, side: int) -> dict:
    """Image k is flat at level 10 x (k + 1): every pixel of a cut-and-pasted image names its source."""
    levels = 10 * (np.arange(count) + 1)
    images = np.broadcast_to(levels[:, None, None], (count, side, side)).astype(np.uint8)
    return {"images": images, "labels": (np.arange(count) % 2).astype(np.uint8), "weights": np.linspace(1.0, 2.0, count)}


def batches_of(image_set: dict, mixup: dict | None, seed: int = 0, augmentation: dict = UNAUGMENTED) -> TrainingBatches:
    return TrainingBatches(image_set, 8, 16, augmentation, PLAIN, seed=seed, mixup=mixup)


def test_mixup_images_are_convex_combinations_of_two_whose_labels_and_weights_match():
    image_set = one_hot_set(16, side=5)
    batches = batches_of(image_set, {"method": "mixup", "alpha": 0.4})
    for index in range(len(batches)):
        images, labels, weights = batches[index]
        members = batches.order[index * 8 : (index + 1) * 8]
        # Share of each of the set's images in each mixed image, read off its own pixel.
        shares = images.reshape(8, -1)[:, :16] / 255
        assert np.all(shares >= 0) and np.all((shares > 0).sum(axis=1) <= 2)
        np.testing.assert_allclose(shares.sum(axis=1), 1, rtol=1e-6)
        assert set(np.flatnonzero(shares.sum(axis=0))) <= set(members)
        np.testing.assert_allclose(labels, shares @ image_set["labels"], rtol=1e-6)
        np.testing.assert_allclose(weights, shares @ image_set["weights"], rtol=1e-6)
    assert not np.isin(labels, [0.0, 1.0]).all(), "mixup should make soft labels"


def test_cutmix_pastes_a_box_of_a_partner_and_mixes_labels_by_area():
    image_set = flat_set(8, side=12)
    batches = batches_of(image_set, {"method": "cutmix", "alpha": 1.0})
    images, labels, weights = batches[0]
    levels = 10 * (np.arange(8) + 1)
    pasted_any = False
    for image, own, label, weight in zip(images[..., 0], batches.order[:8], labels, weights):
        sources = {int(level) // 10 - 1 for level in np.unique(image)}
        assert set(np.unique(image)) <= set(levels) and len(sources) <= 2
        shares = np.array([(image == levels[source]).mean() for source in range(8)])
        np.testing.assert_allclose(label, shares @ image_set["labels"], rtol=1e-6)
        np.testing.assert_allclose(weight, shares @ image_set["weights"], rtol=1e-6)
        for partner in sources - {own}:
            pasted_any = True
            rows, columns = np.nonzero(image == levels[partner])
            box = (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)
            assert box == len(rows), "the pasted part should be one rectangle"
    assert pasted_any


@pytest.mark.parametrize("method", ["mixup", "cutmix"])
def test_the_same_seed_mixes_the_same_batch_and_another_seed_does_not(method):
    image_set = flat_set(16, side=12)
    mixup = {"method": method, "alpha": 1.0}
    first, again, other = (batches_of(image_set, mixup, seed, ONLINE_AUGMENTATION)[1] for seed in (3, 3, 4))
    for part, repeat in zip(first, again):
        np.testing.assert_array_equal(part, repeat)
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("mixup", [None, {"method": "none", "alpha": 0.2}])
def test_method_none_yields_the_augmented_normalised_batch_unmixed(mixup):
    image_set = flat_set(16, side=12)
    batches = batches_of(image_set, mixup, seed=5, augmentation=ONLINE_AUGMENTATION)
    images, labels, weights = batches[1]
    members = batches.order[8:16]
    rng = np.random.default_rng([5, 0, 1])
    expected = as_model_input(augment_batch(image_set["images"][members], ONLINE_AUGMENTATION, rng), PLAIN)
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(labels, image_set["labels"][members])
    np.testing.assert_array_equal(weights, image_set["weights"][members].astype(np.float32))
