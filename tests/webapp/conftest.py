"""A small real predictor and the image files the web app tests upload."""

import zlib
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from pediatric_pneumonia.webapp import ServeLimits, create_app
from pediatric_pneumonia.webapp.app import serving_in_background
from tests.inference.conftest import make_predictor

LIVE_UPLOAD_LIMIT = 50_000


def chest_like_image(seed: int = 0, size: int = 64) -> np.ndarray:
    """A gray (size x size) uint8 image with structure and noise, so predictions and maps differ."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = 180 * np.exp(-((x - 0.3) ** 2 + (y - 0.5) ** 2) * 8) + 150 * np.exp(-((x - 0.7) ** 2 + (y - 0.5) ** 2) * 8)
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)


def encode(image: np.ndarray, extension: str) -> bytes:
    encoded, data = cv2.imencode(extension, image)
    assert encoded
    return data.tobytes()


def png_claiming_size(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim ``width`` x ``height`` at ``bit_depth`` bits
    of ``colour_type`` (0 gray, 2 RGB, 4 gray + alpha, 6 RGBA), with a matching CRC."""
    png = bytearray(encode(np.zeros((2, 2), np.uint8), ".png"))
    png[16:20], png[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    png[24], png[25] = bit_depth, colour_type
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # CRC over "IHDR" + its 13 data bytes
    return bytes(png)


@pytest.fixture(scope="session")
def predictor():
    return make_predictor()


@pytest.fixture(scope="session")
def jpeg_bytes() -> bytes:
    return encode(chest_like_image(0), ".jpg")


@pytest.fixture(scope="session")
def png_bytes() -> bytes:
    return encode(chest_like_image(1), ".png")


@pytest.fixture(scope="session")
def bomb_png() -> bytes:
    return png_claiming_size(60_000, 60_000)


@pytest.fixture(scope="session")
def live_server(predictor) -> Iterator[str]:
    """The app on a real uvicorn server: its URL."""
    with serving_in_background(create_app(predictor, ServeLimits(max_upload_bytes=LIVE_UPLOAD_LIMIT))) as url:
        yield url
