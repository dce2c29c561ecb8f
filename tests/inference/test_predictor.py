"""The Predictor: one preprocessing path, calibrated probabilities, the threshold, and clear load errors."""

import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from pediatric_pneumonia.evaluation.calibration import apply_calibration
from pediatric_pneumonia.imaging.decode import ImageDecodeError
from pediatric_pneumonia.imaging.preprocess import as_model_input, load_grayscale_image
from pediatric_pneumonia.imaging.tta import TTA_TRANSFORMS, tta_views
from pediatric_pneumonia.inference import ModelLoadError, Predictor, load_predictor
from pediatric_pneumonia.inference.predictor import CONFIG_FILE, MODEL_FILE, package_folder
from pediatric_pneumonia.models.ensemble import ensemble_members, is_ensemble
from tests.inference.conftest import (
    IMAGE_SIZE,
    PREPROCESSING,
    make_ensemble_predictor,
    make_predictor,
    predictor_around,
)


def xray_like(seed: int, height: int = 90, width: int = 120) -> np.ndarray:
    """A smooth random gray image (JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 10, width // 10), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def write_jpeg(path, seed: int) -> str:
    cv2.imwrite(str(path), xray_like(seed))
    return str(path)


def test_a_file_gets_the_pipelines_pixels_and_the_calibrated_probability(tmp_path, predictor):
    path = write_jpeg(tmp_path / "a.jpeg", 1)
    stored = load_grayscale_image(path, PREPROCESSING)  # what the pipeline stores
    raw = predictor.classifier.predict(as_model_input(stored[None], PREPROCESSING["intensity"]), verbose=0).reshape(-1)
    expected = apply_calibration(raw, predictor.config["calibration"])[0]

    prediction = predictor.predict(path)

    assert np.array_equal(predictor.stored_image(path, path), stored)
    assert prediction.probability == pytest.approx(expected, abs=1e-6)
    assert prediction.source == path
    assert prediction.threshold == 0.5


def test_path_bytes_and_decoded_array_give_the_same_probability(tmp_path, predictor):
    path = write_jpeg(tmp_path / "b.jpeg", 2)
    content = open(path, "rb").read()
    decoded = cv2.imread(path, cv2.IMREAD_GRAYSCALE)

    from_path, from_bytes = predictor.predict(path), predictor.predict(content, source="upload")
    from_array = predictor.predict(decoded)

    assert from_bytes.probability == pytest.approx(from_path.probability, abs=1e-6)
    assert from_bytes.source == "upload"
    # A full-size array skips the reduced JPEG decode, so its pixels may differ by rounding only.
    assert from_array.probability == pytest.approx(from_path.probability, abs=0.05)


def test_the_label_is_positive_at_or_above_the_threshold(tmp_path):
    path = write_jpeg(tmp_path / "c.jpeg", 3)
    probability = make_predictor().predict(path).probability

    assert make_predictor(threshold=probability).predict(path).label == "PNEUMONIA"
    assert make_predictor(threshold=min(probability + 1e-6, 1.0)).predict(path).label == "NORMAL"


def test_a_batch_with_junk_predicts_the_rest_and_says_why(tmp_path, predictor):
    good = [write_jpeg(tmp_path / f"{index}.jpeg", index) for index in range(3)]
    junk = tmp_path / "notes.jpeg"
    junk.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    inputs = [good[0], str(junk), good[1], str(empty), good[2]]

    predictions = predictor.predict_batch(inputs, skip_errors=True)

    assert [prediction.source for prediction in predictions] == inputs
    assert [prediction.error is None for prediction in predictions] == [True, False, True, False, True]
    assert "notes.jpeg" in predictions[1].error and predictions[1].label is None
    for path, prediction in zip(good, predictions[::2]):
        assert prediction.probability == pytest.approx(predictor.predict(path).probability, abs=1e-6)
    with pytest.raises(ImageDecodeError, match="notes.jpeg"):
        predictor.predict_batch(inputs)


def test_a_missing_file_is_named(tmp_path, predictor):
    with pytest.raises(ImageDecodeError, match="nowhere.jpeg"):
        predictor.predict(tmp_path / "nowhere.jpeg")


def test_a_saved_package_loads_and_predicts_the_same(tmp_path, predictor):
    path = write_jpeg(tmp_path / "d.jpeg", 4)
    predictor.save(tmp_path / "package")

    loaded = Predictor.from_package(tmp_path / "package")

    assert loaded.config == json.loads(json.dumps(predictor.config))
    assert loaded.predict(path).probability == pytest.approx(predictor.predict(path).probability, abs=1e-6)
    assert Predictor.from_package(package_folder(tmp_path / "package" / MODEL_FILE)).threshold == predictor.threshold


def test_the_newest_version_of_a_versioned_folder_is_loaded(tmp_path):
    root = tmp_path / "predictor"
    make_predictor(threshold=0.3).save(root / "2026-01-01T00.00.00.000Z" / "predictor")
    make_predictor(threshold=0.7).save(root / "2026-02-01T00.00.00.000Z" / "predictor")

    assert load_predictor(root).threshold == 0.7


def test_a_folder_without_a_package_names_what_is_missing(tmp_path):
    with pytest.raises(ModelLoadError, match=CONFIG_FILE):
        load_predictor(tmp_path)
    with pytest.raises(ModelLoadError, match="nowhere"):
        load_predictor(tmp_path / "nowhere", project_path=tmp_path)


def test_a_file_that_is_not_a_model_is_named(tmp_path, predictor):
    predictor.save(tmp_path / "package")
    (tmp_path / "package" / MODEL_FILE).write_bytes(b"PK\x03\x04 this is not a keras archive")

    with pytest.raises(ModelLoadError, match=MODEL_FILE):
        Predictor.from_package(tmp_path / "package")


def test_a_model_whose_input_does_not_match_the_preprocessing_is_refused(predictor):
    config = {**predictor.config, "preprocessing": {**PREPROCESSING, "image_size": IMAGE_SIZE * 2}}

    with pytest.raises(ModelLoadError, match="image_size 64"):
        Predictor(predictor.classifier, config, name="mismatched")


def test_loading_never_runs_code_from_the_file(tmp_path, predictor):
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1))
    outputs = keras.layers.Lambda(lambda images: keras.ops.mean(images, axis=(1, 2, 3), keepdims=False)[:, None])(inputs)
    Predictor(keras.Model(inputs, outputs), predictor.config).save(tmp_path / "lambda")

    with pytest.raises(ModelLoadError, match="safe"):
        Predictor.from_package(tmp_path / "lambda")


def test_a_package_from_a_newer_release_is_refused(predictor):
    with pytest.raises(ModelLoadError, match="Upgrade"):
        Predictor(predictor.classifier, {**predictor.config, "format_version": 99})


def test_the_api_is_importable_from_the_package_root():
    import pediatric_pneumonia

    assert pediatric_pneumonia.Predictor is Predictor
    with pytest.raises(AttributeError, match="Nothing"):
        pediatric_pneumonia.Nothing  # noqa: B018 - the attribute access is the test


@pytest.mark.parametrize(
    "config",
    [
        ["not", "an", "object"],
        {"format_version": 1, "classes": ["NORMAL", "PNEUMONIA"], "preprocessing": {}, "calibration": {}, "decision": {}},
        {"format_version": "one", "classes": [], "preprocessing": {"image_size": 32}, "calibration": {}, "decision": {"threshold": 0.5}},
    ],
)
def test_a_malformed_configuration_is_a_load_error_that_says_so(predictor, config):
    with pytest.raises(ModelLoadError, match="not a JSON object|malformed"):
        Predictor(predictor.classifier, config, name="broken")


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path, predictor):
    # /proc/self/mem is a file whose read fails with an I/O error, even for root (whom
    # permissions do not stop).
    unreadable = Path("/proc/self/mem")
    if not unreadable.is_file():
        pytest.skip("needs Linux's /proc")
    with pytest.raises(ImageDecodeError, match="'/proc/self/mem' could not be read"):
        predictor.predict(unreadable)
    folder = tmp_path / "a_folder.jpeg"
    folder.mkdir()
    with pytest.raises(ImageDecodeError, match="is not a file"):
        predictor.predict(folder)


# --- seed ensembles and test-time augmentation -------------------------------------------------

ALL_VIEWS = {"transforms": list(TTA_TRANSFORMS), "shift_fraction": 0.05, "zoom": 0.1}


def stored_images(count: int = 4) -> np.ndarray:
    return np.stack([cv2.resize(xray_like(seed), (IMAGE_SIZE, IMAGE_SIZE)) for seed in range(count)])


def test_an_ensemble_package_round_trips_in_safe_mode(tmp_path):
    ensemble = make_ensemble_predictor(3)
    ensemble.save(tmp_path / "ensemble")

    loaded = Predictor.from_package(tmp_path / "ensemble")

    assert is_ensemble(loaded.classifier) and len(ensemble_members(loaded.classifier)) == 3
    np.testing.assert_allclose(loaded.probabilities(stored_images()), ensemble.probabilities(stored_images()), atol=1e-6)
    np.testing.assert_allclose(loaded.heatmaps(stored_images()), ensemble.heatmaps(stored_images()), atol=1e-6)


def test_tta_without_transforms_is_the_identity_exactly(predictor):
    images = stored_images()
    without = predictor_around(predictor.classifier, PREPROCESSING["intensity"])
    off = predictor_around(predictor.classifier, PREPROCESSING["intensity"], tta={**ALL_VIEWS, "transforms": []})

    np.testing.assert_array_equal(off.raw_probabilities(images), without.raw_probabilities(images))
    np.testing.assert_array_equal(
        without.raw_probabilities(images),
        predictor.classifier.predict(as_model_input(images, PREPROCESSING["intensity"]), verbose=0).reshape(-1),
    )


def test_tta_changes_nothing_for_a_model_that_ignores_the_image():
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1))
    output = keras.layers.Dense(1, activation="sigmoid")
    constant = keras.Model(inputs, output(keras.layers.GlobalAveragePooling2D()(inputs)))
    output.set_weights([np.zeros((1, 1)), np.array([0.7])])
    images = stored_images()

    with_views = predictor_around(constant, PREPROCESSING["intensity"], tta=ALL_VIEWS).raw_probabilities(images)

    np.testing.assert_allclose(with_views, 1 / (1 + np.exp(-0.7)), atol=1e-6)


def test_tta_is_the_sigmoid_of_the_mean_logit_over_the_image_and_its_views(tmp_path, predictor):
    images = stored_images()
    intensity = PREPROCESSING["intensity"]
    logits = [
        np.log(p / (1 - p))
        for view in tta_views(images, ALL_VIEWS)
        for p in [predictor.classifier.predict(as_model_input(view, intensity), verbose=0).reshape(-1).astype(np.float64)]
    ]

    with_views = predictor_around(predictor.classifier, intensity, tta=ALL_VIEWS)

    assert len(logits) == 1 + len(TTA_TRANSFORMS)
    np.testing.assert_allclose(with_views.raw_probabilities(images), 1 / (1 + np.exp(-np.mean(logits, axis=0))), atol=1e-6)
    assert not np.allclose(with_views.raw_probabilities(images), predictor.raw_probabilities(images), atol=1e-7)
    # The package carries it, so a loaded predictor scores the same; Grad-CAM stays on the image itself.
    with_views.save(tmp_path / "tta")
    np.testing.assert_array_equal(Predictor.from_package(tmp_path / "tta").raw_probabilities(images), with_views.raw_probabilities(images))
    np.testing.assert_array_equal(with_views.heatmaps(images), predictor.heatmaps(images))
