"""Picking one class out of an image set and tiling images into one picture, for plots and MLflow."""

import math

import numpy as np


def class_images(image_set: dict, classes: list[str], label: str) -> np.ndarray:
    """The uint8 images of one class of an image set."""
    return image_set["images"][image_set["labels"] == classes.index(label)]


def image_grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    """Tile (N, H, W[, 1]) images in [0, 1] or uint8 into one uint8 grid image."""
    images = images.reshape(images.shape[:3])
    if images.dtype != np.uint8:
        images = (np.clip(images, 0, 1) * 255).astype(np.uint8)
    rows = math.ceil(len(images) / columns)
    height, width = images.shape[1:3]
    grid = np.zeros((rows * height, columns * width), dtype=np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    return grid
