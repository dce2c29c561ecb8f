"""Test-time augmentation: the views of a stored image that a prediction averages over.

Small shifts and zooms only: no left-right flips (the heart is on the left, so a flipped chest is
not a chest the model should have to read). Views are made from the stored uint8 image, before
intensity normalisation, exactly as training augmentation sees an image. ``inference.tta`` with
no transforms means the identity view alone (off)."""

import numpy as np

from ..choices import TTA_TRANSFORMS
from .shifts import affine, zoom


def tta_transforms(tta: dict | None) -> list[str]:
    """The transforms of an ``inference.tta`` setting (none when it is absent: packages written
    before it existed)."""
    return list((tta or {}).get("transforms", []))


def tta_view(image: np.ndarray, transform: str, tta: dict) -> np.ndarray:
    """One 2-D uint8 image under one transform: a shift by ``shift_fraction`` of its side, or a zoom
    about the centre by 1 +- ``zoom``; the uncovered border repeats the edge pixels."""
    axis, sign = TTA_TRANSFORMS[transform]
    if axis == "zoom":
        return zoom(image, 1.0 + sign * tta["zoom"], np.random.default_rng(0))
    height, width = image.shape
    offset = sign * tta["shift_fraction"] * (width if axis == "x" else height)
    matrix = np.float32([[1, 0, offset if axis == "x" else 0], [0, 1, offset if axis == "y" else 0]])
    return affine(image, matrix)


def tta_views(images: np.ndarray, tta: dict | None) -> list[np.ndarray]:
    """The (N, H, W) stored images themselves, then the same images under each transform of ``tta``."""
    views = [images]
    for transform in tta_transforms(tta):
        views.append(np.stack([tta_view(image, transform, tta) for image in images]) if len(images) else images)
    return views

