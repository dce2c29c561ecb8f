"""A three-class predictor package: written, read back with its classes, predicting the most
probable class with each class's probability and P(pneumonia) against the binary threshold; a
package whose classes do not match its model's outputs is refused with the reason."""

import json

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import softmax

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.inference import ModelLoadError, Predictor, load_predictor
from pediatric_pneumonia.inference.package import PACKAGE_FORMAT_VERSION
from tests.inference.conftest import PREPROCESSING
from tests.pipelines.reporting.tiny_model import flat_images

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]
WEIGHTS = np.array([[-8.0, 0.0, 8.0]])  # brighter: less NORMAL, more VIRUS
BIASES = np.array([4.0, 1.0, -4.0])  # mid-gray: BACTERIA


def gray_levels_model(size: int = 8) -> keras.Model:
    """softmax(mean / 255 x WEIGHTS + BIASES) of a (size, size, 1) image."""
    inputs = keras.Input((size, size, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    output = keras.layers.Dense(3, activation="softmax", name="pneumonia_probability")
    model = keras.Model(inputs, output(pooled))
    output.set_weights([WEIGHTS, BIASES])
    return model


def gray_levels_cnn(size: int = 8) -> keras.Model:
    """A seeded three-class CNN with a feature map (for Grad-CAM)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 1))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(
        keras.layers.Rescaling(1 / 255)(inputs)
    )
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="pneumonia_probability")(pooled))


def expected(levels: list[int]) -> np.ndarray:
    return softmax(np.asarray(levels)[:, None] / 255 * WEIGHTS + BIASES, axis=1)


def three_class_predictor(classes: list[str] = CLASSES) -> Predictor:
    return Predictor(
        gray_levels_model(),
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": classes,
            "preprocessing": {**PREPROCESSING, "image_size": 8, "intensity": {"method": "none"}},
            "calibration": {"method": "temperature", "temperature": 1.0},
            "decision": {"rule": "argmax", "method": "youden", "threshold": 0.6},
            "inference": {"batch_size": 4, "tta": None},
        },
    )


def test_the_package_keeps_its_classes_and_predicts_the_most_probable_class(tmp_path):
    three_class_predictor().save(tmp_path / "package")
    loaded = load_predictor(tmp_path / "package")

    dark, mid, bright = loaded.predict_batch(list(flat_images([20, 130, 240], size=8)))

    assert (
        loaded.classes == CLASSES
        and json.loads((tmp_path / "package" / "predictor.json").read_text())["format_version"] == 3
    )
    for prediction, level, label in ((dark, 20, "NORMAL"), (mid, 130, "BACTERIA"), (bright, 240, "VIRUS")):
        row = expected([level])[0]
        assert prediction.label == label
        assert prediction.probabilities == pytest.approx(dict(zip(CLASSES, row)), abs=1e-5)
        assert prediction.probability == pytest.approx(1 - row[0], abs=1e-5) and prediction.threshold == 0.6


def test_predict_prints_a_probability_per_class(tmp_path):
    three_class_predictor().save(tmp_path / "package")
    image = tmp_path / "bright.png"
    cv2.imwrite(str(image), flat_images([240], size=8)[0])

    result = CliRunner().invoke(cli, ["predict", str(image), "--model", str(tmp_path / "package"), "--format", "csv"])

    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()
    assert header.split(",")[-3:] == ["probability_NORMAL", "probability_BACTERIA", "probability_VIRUS"]
    assert row.split(",")[1] == "VIRUS"


def test_classes_that_do_not_match_the_models_outputs_are_refused():
    with pytest.raises(ModelLoadError, match=r"has 3 output\(s\), but predictor.json names 2 classes"):
        three_class_predictor(["NORMAL", "PNEUMONIA"])


def test_a_site_in_the_public_layout_is_labelled_by_the_subtypes_in_its_names(tmp_path):
    for folder, name in (
        ("NORMAL", "IM-0001-0001.png"),
        ("PNEUMONIA", "person1_bacteria_1.png"),
        ("PNEUMONIA", "person2_virus_2.png"),
        ("PNEUMONIA", "scan.png"),
    ):
        (tmp_path / "site" / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "site" / folder / name), flat_images([100], size=8)[0])

    labelled = labelled_files(tmp_path / "site", CLASSES)

    assert dict(zip(labelled.files["path"].map(lambda path: path.rsplit("/", 1)[-1]), labelled.files["label"])) == {
        "IM-0001-0001.png": "NORMAL",
        "person1_bacteria_1.png": "BACTERIA",
        "person2_virus_2.png": "VIRUS",
    }
    assert labelled.files["target"].tolist() == [0, 1, 2]
    assert any("scan.png': its name says no pneumonia subtype" in problem for problem in labelled.problems)


def test_the_web_apps_explanation_maps_the_class_the_prediction_names(tmp_path):
    predictor = Predictor(
        gray_levels_cnn(),
        {
            **three_class_predictor().config,
            "preprocessing": {**PREPROCESSING, "image_size": 8, "intensity": {"method": "none"}},
        },
    )
    image = flat_images([240], size=8)[0]

    explanation = predictor.explain(image, "bright")

    chosen = CLASSES.index(explanation.prediction.label)
    np.testing.assert_allclose(
        explanation.heatmap, predictor.heatmaps(image[np.newaxis], class_index=np.array([chosen]))[0]
    )
