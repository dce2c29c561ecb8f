"""Test-time augmentation views: the identity first, small shifts and zooms of the stored image."""

import numpy as np
import pytest

from pediatric_pneumonia.imaging.tta import TTA_TRANSFORMS, tta_transforms, tta_view, tta_views

TTA = {"transforms": list(TTA_TRANSFORMS), "shift_fraction": 0.125, "zoom": 0.2}


def dot_image() -> np.ndarray:
    image = np.zeros((16, 16), dtype=np.uint8)
    image[8, 8] = 255
    return image


@pytest.mark.parametrize(
    ("transform", "where"),
    [("shift_up", (6, 8)), ("shift_down", (10, 8)), ("shift_left", (8, 6)), ("shift_right", (8, 10))],
)
def test_a_shift_moves_the_image_by_the_fraction_of_its_side(transform, where):
    view = tta_view(dot_image(), transform, TTA)

    assert np.unravel_index(np.argmax(view), view.shape) == where
    assert view.dtype == np.uint8 and view.shape == (16, 16)


def test_zoom_in_spreads_the_centre_and_zoom_out_shrinks_it():
    square = np.zeros((32, 32), dtype=np.uint8)
    square[12:20, 12:20] = 255
    bright = {transform: int((tta_view(square, transform, TTA) > 127).sum()) for transform in ("zoom_in", "zoom_out")}

    assert bright["zoom_in"] > 64 > bright["zoom_out"]


def test_no_transforms_is_the_images_alone_and_views_follow_the_listed_order():
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)

    assert tta_transforms(None) == [] and len(tta_views(images, None)) == 1
    assert tta_views(images, {**TTA, "transforms": []})[0] is images
    views = tta_views(images, {**TTA, "transforms": ["zoom_out", "shift_up"]})
    assert len(views) == 3 and views[0] is images
    np.testing.assert_array_equal(views[2][1], tta_view(images[1], "shift_up", TTA))
