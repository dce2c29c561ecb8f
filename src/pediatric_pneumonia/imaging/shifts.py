"""Acquisition shifts: what another scanner, clinic or year does to an X-ray, as functions of one
magnitude. The stress report applies them at graded severities; training augmentation draws
random magnitudes of the photometric ones. Every function maps a 2-D uint8 image to one of the
same shape and dtype, and its identity magnitude (``IDENTITY``) returns the image unchanged."""

from collections.abc import Callable

import cv2
import numpy as np


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def brightness(image: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``delta`` x 255 to every pixel (an over- or under-exposed film)."""
    return _to_uint8(image.astype(np.float32) + 255.0 * delta)


def contrast(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale the deviations from the image's mean by ``factor`` (< 1: a flat, washed-out film)."""
    pixels = image.astype(np.float32)
    mean = pixels.mean()
    return _to_uint8(mean + factor * (pixels - mean))


def gamma(image: np.ndarray, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Raise normalised pixels to ``exponent`` (another detector response curve)."""
    return _to_uint8(255.0 * (image.astype(np.float32) / 255.0) ** exponent)


def blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` pixels (focal spot, motion, soft detector)."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``std`` x 255 (a lower dose, another detector)."""
    if std <= 0:
        return image
    return _to_uint8(image.astype(np.float32) + rng.normal(0.0, 255.0 * std, image.shape))


def jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """Re-encode as JPEG at ``quality`` (1-100; 100 or more leaves the image untouched)."""
    if quality >= 100:
        return image
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def resolution(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Down-sample by ``factor`` and back up (a lower-resolution source image)."""
    if factor <= 1:
        return image
    height, width = image.shape
    small = cv2.resize(image, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Warp with a 2x3 affine matrix, filling the uncovered border with the edge pixels."""
    height, width = image.shape
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def zoom(image: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Scale about the centre: < 1 shows a wider field with a border, > 1 crops into the chest."""
    if scale == 1:
        return image
    height, width = image.shape
    return affine(image, cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 0.0, scale))


def rotation(image: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate by ``degrees`` about the centre (a patient not quite straight on the detector)."""
    if degrees == 0:
        return image
    height, width = image.shape
    return affine(image, cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0))


Shift = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

SHIFTS: dict[str, Shift] = {
    "brightness": brightness,
    "contrast": contrast,
    "gamma": gamma,
    "blur": blur,
    "noise": noise,
    "jpeg": jpeg,
    "resolution": resolution,
    "zoom": zoom,
    "rotation": rotation,
}

# The magnitude of each shift that leaves an image unchanged (severity 0).
IDENTITY = {
    "brightness": 0.0,
    "contrast": 1.0,
    "gamma": 1.0,
    "blur": 0.0,
    "noise": 0.0,
    "jpeg": 100,
    "resolution": 1.0,
    "zoom": 1.0,
    "rotation": 0.0,
}


def apply_shift(images: np.ndarray, shift: str, magnitude: float, rng: np.random.Generator) -> np.ndarray:
    """Apply one shift at one magnitude to every image of an ``(N, H, W)`` uint8 array."""
    if magnitude == IDENTITY[shift]:
        return images
    function = SHIFTS[shift]
    return np.stack([function(image, magnitude, rng) for image in images]) if len(images) else images
