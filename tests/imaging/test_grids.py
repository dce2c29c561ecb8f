import numpy as np

from pediatric_pneumonia.imaging.grids import class_images, image_grid


def test_image_grid_tiles_images_row_by_row_and_scales_floats_to_uint8():
    images = np.stack([np.full((2, 3, 1), value, dtype=np.float32) for value in (0.0, 0.5, 1.0)])
    grid = image_grid(images, columns=2)
    assert grid.dtype == np.uint8 and grid.shape == (4, 6)
    assert (grid[:2, :3] == 0).all() and (grid[:2, 3:] == 127).all()
    assert (grid[2:, :3] == 255).all() and (grid[2:, 3:] == 0).all()  # the empty cell stays black


def test_class_images_picks_the_images_of_one_class_by_name():
    image_set = {"images": np.arange(4, dtype=np.uint8).reshape(4, 1, 1), "labels": np.array([1, 0, 1, 0])}
    assert class_images(image_set, ["NORMAL", "PNEUMONIA"], "PNEUMONIA").ravel().tolist() == [0, 2]
