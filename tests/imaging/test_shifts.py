import cv2
import numpy as np
import pytest

from pediatric_pneumonia.imaging.augment import augment_batch
from pediatric_pneumonia.imaging.shifts import IDENTITY, SHIFTS, apply_shift
from tests.conftest import ONLINE_AUGMENTATION
from tests.imaging.test_preprocess import chest_like

# Graded magnitudes per shift, mildest first (the defaults' shape).
GRADED = {
    "brightness": [0.08, 0.16, 0.24],
    "contrast": [0.8, 0.6, 0.45],
    "gamma": [1.3, 1.7, 2.2],
    "blur": [0.7, 1.4, 2.1],
    "noise": [0.02, 0.04, 0.07],
    "jpeg": [50, 25, 10],
    "resolution": [1.5, 2.5, 4.0],
    "zoom": [0.94, 0.88, 0.8],
    "rotation": [4, 8, 12],
    "crop": [0.04, 0.08, 0.12],
    "markers": [1, 2, 4],
    "sharpen": [0.5, 1.0, 2.0],
}


def images() -> np.ndarray:
    return np.stack([chest_like(64, 64, seed) for seed in range(4)])


def test_every_shift_has_graded_magnitudes_here():
    assert set(GRADED) == set(SHIFTS) == set(IDENTITY)


@pytest.mark.parametrize("shift", sorted(SHIFTS))
def test_severity_zero_is_the_identity(shift):
    batch = images()
    assert np.array_equal(apply_shift(batch, shift, IDENTITY[shift], np.random.default_rng(0)), batch)
    # also through the function itself, not only the shortcut in apply_shift
    assert np.array_equal(SHIFTS[shift](batch[0], IDENTITY[shift], np.random.default_rng(0)), batch[0])


@pytest.mark.parametrize("shift", sorted(SHIFTS))
def test_severities_are_monotone(shift):
    batch = images()
    changes = [
        np.abs(apply_shift(batch, shift, magnitude, np.random.default_rng(0)).astype(int) - batch.astype(int)).mean()
        for magnitude in GRADED[shift]
    ]
    assert changes[0] > 0
    assert changes == sorted(changes) and len(set(changes)) == len(changes)


@pytest.mark.parametrize("shift", sorted(SHIFTS))
def test_shifts_keep_shape_and_dtype_and_are_seeded(shift):
    batch = images()
    first = apply_shift(batch, shift, GRADED[shift][1], np.random.default_rng(5))
    second = apply_shift(batch, shift, GRADED[shift][1], np.random.default_rng(5))
    assert first.shape == batch.shape and first.dtype == np.uint8
    assert np.array_equal(first, second)


def test_crop_frames_tighter_the_centre_fills_the_frame():
    image = np.zeros((60, 60), dtype=np.uint8)
    image[6:54, 6:54] = 200  # a body with a 6-pixel border of air on every side
    cropped = apply_shift(image[np.newaxis], "crop", 0.1, np.random.default_rng(0))[0]
    assert cropped.shape == image.shape
    assert (image == 200).mean() < 0.65 and (cropped == 200).mean() == 1.0


def test_markers_burn_saturated_marks_near_the_border_only_and_depend_on_the_seed():
    batch = np.full((8, 96, 96), 100, dtype=np.uint8)
    marked = apply_shift(batch, "markers", 4, np.random.default_rng(0))
    changed = marked != batch
    assert changed.any(axis=(1, 2)).all()
    assert marked.max() == 255
    assert not changed[:, 30:66, 30:66].any()  # the centre, where the lungs are, is untouched
    one_mark = apply_shift(batch, "markers", 1, np.random.default_rng(0)) != batch
    assert one_mark.sum() < changed.sum()
    assert not np.array_equal(marked, apply_shift(batch, "markers", 4, np.random.default_rng(1)))


def test_augmentation_is_seeded_varied_and_off_when_disabled():
    batch = images()
    first = augment_batch(batch, ONLINE_AUGMENTATION, np.random.default_rng(1))
    again = augment_batch(batch, ONLINE_AUGMENTATION, np.random.default_rng(1))
    other = augment_batch(batch, ONLINE_AUGMENTATION, np.random.default_rng(2))
    assert first.shape == batch.shape and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.array_equal(first, batch)
    off = augment_batch(batch, {**ONLINE_AUGMENTATION, "enabled": False}, np.random.default_rng(1))
    assert np.array_equal(off, batch)


IDENTITY_AUGMENTATION = {
    **ONLINE_AUGMENTATION,
    **dict.fromkeys(
        ("rotation_range", "width_shift_range", "height_shift_range", "shear_range", "zoom_range", "brightness",
         "contrast", "gamma", "blur_sigma", "noise_std"),
        0.0,
    ),
}


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_marker_augmentation_marks_the_configured_share_of_images_of_either_class(rate):
    # the augmentation never sees a label: a batch of NORMAL and PNEUMONIA images is marked alike
    batch = np.stack([chest_like(64, 64, seed) // 2 for seed in range(400)])  # dark films: a mark stands out
    marked = augment_batch(batch, {**IDENTITY_AUGMENTATION, "marker_rate": rate}, np.random.default_rng(0))

    changed = np.any(marked != batch, axis=(1, 2))
    # a mark is bright: every changed image is brighter somewhere than its film ever was
    assert all(marked[index].max() > batch[index].max() for index in np.flatnonzero(changed))
    expected, spread = rate * len(batch), 3 * np.sqrt(len(batch) * rate * (1 - rate))
    assert abs(changed.sum() - expected) <= spread
    halves = changed[:200].mean(), changed[200:].mean()  # any split of the batch, e.g. by class
    assert abs(halves[0] - halves[1]) <= 0.15


def test_sharpening_augmentation_spreads_sharpness_both_ways():
    textured = np.random.default_rng(0).normal(0, 12, (4, 64, 64))
    batch = np.clip(images() * 0.8 + 20 + textured, 0, 255).astype(np.uint8)  # fine detail to blur or sharpen
    sharpness = lambda images: np.array([cv2.Laplacian(image, cv2.CV_64F).var() for image in images])  # noqa: E731
    blurred = augment_batch(batch, {**IDENTITY_AUGMENTATION, "blur_sigma": 2.0}, np.random.default_rng(0))
    sharpened = augment_batch(batch, {**IDENTITY_AUGMENTATION, "sharpen": 2.0}, np.random.default_rng(0))

    # each draw's magnitude is in [0, s]: a draw near 0 leaves an image as it is
    assert np.all(sharpness(blurred) <= sharpness(batch)) and sharpness(blurred).mean() < sharpness(batch).mean()
    assert np.all(sharpness(sharpened) >= sharpness(batch)) and sharpness(sharpened).mean() > sharpness(batch).mean()
