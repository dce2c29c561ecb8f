import cv2
import numpy as np
import pytest

from pediatric_pneumonia.imaging.preprocess import (
    ImageDecodeError,
    fit_to_square,
    load_grayscale_image,
    normalise_intensity,
    reduced_decode_flag,
)
from pediatric_pneumonia.parameters import check_parameters

INTENSITY = {"method": "none", "clahe_clip_limit": 2.0, "clahe_tile_grid": 4, "percentiles": [1, 99]}
PREPROCESSING = {"image_size": 148, "workers": 1, "geometry": "stretch", "border_crop": 0.0, "intensity": INTENSITY}


def chest_like(height: int = 90, width: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.resize(rng.integers(0, 255, (6, 8), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    return smooth


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1600, 1300, cv2.IMREAD_REDUCED_GRAYSCALE_8),
        (600, 620, cv2.IMREAD_REDUCED_GRAYSCALE_4),
        (400, 300, cv2.IMREAD_REDUCED_GRAYSCALE_2),
        (224, 224, cv2.IMREAD_GRAYSCALE),
    ],
)
def test_reduced_decode_never_goes_below_the_target_size(width, height, expected):
    assert reduced_decode_flag(width, height, 148) == expected


def test_reduced_decode_matches_a_full_decode_and_resize(tmp_path):
    path = tmp_path / "large.jpeg"
    cv2.imwrite(str(path), chest_like(1300, 1600))

    fast = load_grayscale_image(str(path), PREPROCESSING)
    naive = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (148, 148), interpolation=cv2.INTER_AREA)

    assert fast.shape == (148, 148) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - naive.astype(int)).mean() < 3


def test_undecodable_file_names_the_file(tmp_path):
    path = tmp_path / "broken.jpeg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(100) + b"\xff\xd9")
    with pytest.raises(ImageDecodeError, match=r"broken\.jpeg"):
        load_grayscale_image(str(path), {**PREPROCESSING, "image_size": 32})


@pytest.mark.parametrize("method", ["none", "histogram_equalisation", "clahe", "percentile_window"])
def test_normalisation_keeps_shape_and_dtype(method):
    image = chest_like()
    normalised = normalise_intensity(image, {**INTENSITY, "method": method})
    assert normalised.shape == image.shape and normalised.dtype == np.uint8


@pytest.mark.parametrize("method", ["histogram_equalisation", "clahe", "percentile_window"])
def test_normalisation_undoes_most_of_a_global_exposure_change(method):
    """The point of normalising: a darker, flatter copy of an image comes out much closer to the original."""
    image = chest_like()
    darker_flatter = (image.astype(np.float32) * 0.6 + 20).astype(np.uint8)
    intensity = {**INTENSITY, "method": method}
    before = np.abs(image.astype(int) - darker_flatter.astype(int)).mean()
    after = np.abs(normalise_intensity(image, intensity).astype(int) - normalise_intensity(darker_flatter, intensity).astype(int)).mean()
    assert after < before / 1.8


def test_stretch_fills_the_square_and_pad_keeps_the_aspect_ratio():
    wide = np.zeros((50, 100), dtype=np.uint8)
    wide[:, 40:60] = 255  # a vertical bar, 20 % of the width
    stretched = fit_to_square(wide, 40, "stretch", 0.0)
    padded = fit_to_square(wide, 40, "pad", 0.0)
    assert stretched.shape == padded.shape == (40, 40)
    assert (stretched[20] > 128).sum() == pytest.approx(8, abs=1)  # 20 % of 40
    assert (padded[20] > 128).sum() == pytest.approx(8, abs=1)
    assert padded[:, 20].mean() == pytest.approx(255, abs=1)  # the bar fills the height


def test_border_crop_cuts_each_side():
    framed = np.full((100, 100), 255, dtype=np.uint8)
    framed[10:90, 10:90] = 0  # a white frame 10 % wide
    assert fit_to_square(framed, 50, "stretch", 0.0).max() == 255
    assert fit_to_square(framed, 50, "stretch", 0.1).max() == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"geometry": "crop"}, "geometry"),
        ({"border_crop": 0.6}, "border_crop"),
        ({"intensity": {**INTENSITY, "method": "zscore"}}, "intensity.method"),
        ({"intensity": {**INTENSITY, "percentiles": [99, 1]}}, "percentiles"),
    ],
)
def test_unusable_preprocessing_is_refused_with_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("preprocessing", {**PREPROCESSING, **change})
