"""One preprocessing path: decode -> grayscale -> crop/resize to a square (stored on disk as uint8)
-> per-image intensity normalisation (applied when the model is fed, so that simulated acquisition
shifts and training augmentation act on the image *before* it is normalised, as a scanner would)."""

import cv2
import numpy as np

INTENSITY_METHODS = ("none", "histogram_equalisation", "clahe", "percentile_window")
GEOMETRY_METHODS = ("stretch", "pad")

# libjpeg decodes directly at 1/8, 1/4 or 1/2 scale, far faster than a full decode and resize.
REDUCED_GRAYSCALE_FLAGS = (
    (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
    (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
)


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image."""


def check_preprocessing_parameters(preprocessing: dict) -> None:
    """Raise a ValueError naming the fix if the preprocessing parameters are unusable."""
    where = "conf/base/parameters_preprocessing.yml"
    if preprocessing["geometry"] not in GEOMETRY_METHODS:
        raise ValueError(
            f"Unknown preprocessing.geometry '{preprocessing['geometry']}'. Use one of "
            f"{GEOMETRY_METHODS} in {where}."
        )
    if not 0 <= preprocessing["border_crop"] < 0.5:
        raise ValueError(
            f"preprocessing.border_crop must be a fraction in [0, 0.5), got {preprocessing['border_crop']}."
        )
    intensity = preprocessing["intensity"]
    if intensity["method"] not in INTENSITY_METHODS:
        raise ValueError(
            f"Unknown preprocessing.intensity.method '{intensity['method']}'. Use one of "
            f"{INTENSITY_METHODS} in {where}."
        )
    low, high = intensity["percentiles"]
    if not 0 <= low < high <= 100:
        raise ValueError(
            f"preprocessing.intensity.percentiles must be [low, high] with 0 <= low < high <= 100, "
            f"got {intensity['percentiles']}."
        )
    if intensity["clahe_clip_limit"] <= 0 or intensity["clahe_tile_grid"] < 1:
        raise ValueError(
            "preprocessing.intensity.clahe_clip_limit must be > 0 and clahe_tile_grid >= 1, got "
            f"{intensity['clahe_clip_limit']} and {intensity['clahe_tile_grid']}."
        )


def reduced_decode_flag(width: int, height: int, image_size: int) -> int:
    """The cheapest OpenCV grayscale decode whose output is still at least ``image_size``."""
    for factor, flag in REDUCED_GRAYSCALE_FLAGS:
        if min(width, height) // factor >= image_size:
            return flag
    return cv2.IMREAD_GRAYSCALE


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


def decode_grayscale(content: bytes | np.ndarray, source: str, flag: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    """Decode encoded image bytes to a 2-D uint8 grayscale array; ``source`` names it in errors."""
    buffer = np.frombuffer(content, dtype=np.uint8) if isinstance(content, bytes) else content
    image = cv2.imdecode(buffer, flag) if buffer.size else None
    if image is None:
        raise ImageDecodeError(
            f"OpenCV could not decode '{source}' as an image. Remove or replace the file and run again."
        )
    return image


def load_grayscale_image(path: str, width: int, height: int, preprocessing: dict) -> np.ndarray:
    """Decode one image file (at reduced size where possible) into the stored square uint8 image."""
    size = preprocessing["image_size"]
    image = decode_grayscale(np.fromfile(path, dtype=np.uint8), path, reduced_decode_flag(width, height, size))
    return fit_to_square(image, size, preprocessing["geometry"], preprocessing["border_crop"])


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
