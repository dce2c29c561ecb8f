"""Acquisition shifts: what another scanner, clinic or year does to an X-ray, as functions of one
magnitude. The stress report applies them at graded severities; training augmentation draws
random magnitudes of the photometric ones. Every function maps a 2-D uint8 image to one of the
same shape and dtype, and its identity magnitude (``IDENTITY``) returns the image unchanged."""

from collections.abc import Callable

import cv2
import numpy as np

from ..choices import SHIFT_IDENTITY as IDENTITY


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


def sharpen(image: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Unsharp mask: add ``amount`` x (image - its Gaussian blur of sigma 1) (a sharper detector, an
    edge-enhancing reconstruction filter)."""
    if amount <= 0:
        return image
    pixels = image.astype(np.float32)
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigmaX=1.0, borderType=cv2.BORDER_REFLECT)
    return _to_uint8(pixels + amount * (pixels - blurred))


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


def crop(image: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Cut ``fraction`` of each side and resize the centre back to full size (a tighter collimation:
    the lungs fill more of the frame, as in the public PNEUMONIA images)."""
    if fraction <= 0:
        return image
    height, width = image.shape
    rows, columns = min(round(fraction * height), (height - 1) // 2), min(round(fraction * width), (width - 1) // 2)
    return cv2.resize(image[rows : height - rows, columns : width - columns], (width, height), interpolation=cv2.INTER_LINEAR)


MARKER_TEXTS = ("AP", "PORTABLE", "SUPINE", "12:34", "KV59")


def markers(image: np.ndarray, count: float, rng: np.random.Generator) -> np.ndarray:
    """Burn in ``count`` saturated marks near the border, as another site's equipment prints them:
    first an L/R letter in a corner, then a bright label plate along an edge, then text lines.
    Corners, edges, letters and offsets are drawn from ``rng``."""
    marked = image.copy()
    height, width = image.shape
    side = min(height, width)
    scale = side / 300  # cv2's fonts are about 22 px high at scale 1: a letter of about 7 % of the side, as real markers
    thickness = max(1, round(side / 100))
    margin = max(1, round(0.04 * side))
    for item in range(int(count)):
        if item == 0:
            letter = str(rng.choice(["L", "R"]))
            x = margin if rng.random() < 0.5 else width - margin - round(16 * scale)
            y = margin + round(22 * scale) if rng.random() < 0.5 else height - margin
            cv2.putText(marked, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
        elif item == 1:
            plate_width, plate_height = round(0.25 * width), max(2, round(0.06 * height))
            x = int(rng.integers(margin, max(margin + 1, width - margin - plate_width)))
            y = margin if rng.random() < 0.5 else height - margin - plate_height
            cv2.rectangle(marked, (x, y), (x + plate_width, y + plate_height), 255, thickness=-1)
        else:
            text = str(rng.choice(MARKER_TEXTS))
            x = int(rng.integers(margin, max(margin + 1, width // 2)))
            line_offset = round(22 * scale) * (item - 2)  # each further line one line in from the edge
            y = margin + round(22 * scale) + line_offset if rng.random() < 0.5 else height - margin - line_offset
            cv2.putText(marked, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, 255, thickness, cv2.LINE_AA)
    return marked


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
    "crop": crop,
    "markers": markers,
    "sharpen": sharpen,
}



def apply_shift(images: np.ndarray, shift: str, magnitude: float, rng: np.random.Generator) -> np.ndarray:
    """Apply one shift at one magnitude to every image of an ``(N, H, W)`` uint8 array."""
    if magnitude == IDENTITY[shift]:
        return images
    function = SHIFTS[shift]
    return np.stack([function(image, magnitude, rng) for image in images]) if len(images) else images
