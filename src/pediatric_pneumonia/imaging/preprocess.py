"""One preprocessing path: decode -> grayscale -> crop/resize to a square (stored on disk as uint8)
-> per-image intensity normalisation (applied when the model is fed, so that simulated acquisition
shifts and training augmentation act on the image *before* it is normalised, as a scanner would)."""

from pathlib import Path

import cv2
import numpy as np

from .decode import DEFAULT_DECODE_LIMITS, DecodeLimits, decode_grayscale_image
from .decode import ImageDecodeError as ImageDecodeError  # re-exported: callers catch it from here
from .decode import reduced_decode_flag as reduced_decode_flag  # re-exported: it lived here


def fit_to_square(image: np.ndarray, image_size: int, geometry: str, border_crop: float) -> np.ndarray:
    """Crop ``border_crop`` of each side, then make a square of side ``image_size``.

    ``stretch`` resizes each axis on its own (the paper; also what the 224x224 re-encoded public
    copies already did, so stretched originals and stretched copies agree); ``pad`` keeps the
    aspect ratio and pads the short side with the edge rows/columns.
    """
    height, width = image.shape
    crop_y, crop_x = int(round(border_crop * height)), int(round(border_crop * width))
    image = image[crop_y : height - crop_y, crop_x : width - crop_x]
    if geometry == "stretch":
        return cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    scale = image_size / max(image.shape)
    new_width = max(1, round(image.shape[1] * scale))
    new_height = max(1, round(image.shape[0] * scale))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)
    top, left = (image_size - new_height) // 2, (image_size - new_width) // 2
    return cv2.copyMakeBorder(
        resized,
        top,
        image_size - new_height - top,
        left,
        image_size - new_width - left,
        cv2.BORDER_REPLICATE,
    )


def stored_image(
    content: bytes, source: str, preprocessing: dict, limits: DecodeLimits = DEFAULT_DECODE_LIMITS
) -> np.ndarray:
    """Encoded image bytes (any format ``decode_grayscale_image`` reads) -> the stored square uint8
    image of side ``preprocessing["image_size"]``, exactly as the training pipeline stores it.

    Intensity normalisation is not applied here: ``as_model_input`` does it when the model is fed.
    ``source`` names the file in errors; ``limits`` bounds what the decode may cost.
    """
    size = preprocessing["image_size"]
    image = decode_grayscale_image(content, source, size, *limits)
    return fit_to_square(image, size, preprocessing["geometry"], preprocessing["border_crop"])


def load_grayscale_image(path: str, preprocessing: dict) -> np.ndarray:
    """Read one image file into the stored square uint8 image (see ``stored_image``)."""
    return stored_image(Path(path).read_bytes(), str(path), preprocessing)


def normalise_intensity(image: np.ndarray, intensity: dict) -> np.ndarray:
    """Per-image intensity normalisation of a 2-D uint8 image; returns uint8 of the same shape.

    - ``none``: unchanged (the paper);
    - ``histogram_equalisation``: global histogram equalisation;
    - ``clahe``: contrast-limited adaptive histogram equalisation (``clahe_clip_limit``, a
      ``clahe_tile_grid`` x ``clahe_tile_grid`` grid of tiles);
    - ``percentile_window``: the ``percentiles`` [low, high] of the image's own pixels are
      stretched to 0-255 (a window that follows the exposure).
    """
    method = intensity["method"]
    if method == "none":
        return image
    if method == "histogram_equalisation":
        return cv2.equalizeHist(image)
    if method == "clahe":
        grid = intensity["clahe_tile_grid"]
        return cv2.createCLAHE(clipLimit=intensity["clahe_clip_limit"], tileGridSize=(grid, grid)).apply(image)
    low, high = np.percentile(image, intensity["percentiles"])
    scaled = (image.astype(np.float32) - low) * (255.0 / max(high - low, 1.0))
    return np.clip(scaled, 0, 255).round().astype(np.uint8)


def as_model_input(images: np.ndarray, intensity: dict) -> np.ndarray:
    """Normalise each stored uint8 image and add the channel axis: (N, H, W) -> (N, H, W, 1) float32.

    Values stay in 0-255: the model's own ``Rescaling`` layer maps them to [0, 1].
    """
    if intensity["method"] != "none":
        images = np.stack([normalise_intensity(image, intensity) for image in images]) if len(images) else images
    return images[..., np.newaxis].astype(np.float32)
