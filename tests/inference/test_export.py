"""The TFLite export: the converted model computes what the Keras model computes, and carries its settings."""

import json

import numpy as np
import pytest
from scipy.special import softmax

from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.export import ExportError, export_tflite, tflite_description, tflite_probabilities
from tests.inference.conftest import IMAGE_SIZE, make_ensemble_predictor, smooth_images, with_shift_reference
from tests.inference.test_three_class_package import CLASSES, gray_levels_cnn, gray_levels_model, three_class_predictor
from tests.pipelines.reporting.tiny_model import flat_images


@pytest.fixture(scope="module")
def exported(tmp_path_factory, predictor):
    return export_tflite(predictor, tmp_path_factory.mktemp("export") / "mobile" / "classifier.tflite")


def test_tflite_probabilities_equal_the_keras_models(exported, predictor):
    stored = np.random.default_rng(7).integers(0, 256, (5, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    model_input = as_model_input(stored, predictor.preprocessing["intensity"])

    expected = predictor.classifier.predict(model_input, verbose=0).reshape(-1)

    np.testing.assert_allclose(tflite_probabilities(exported, model_input), expected, atol=1e-5)
    # The batch size is free: one image at a time gives the same numbers.
    np.testing.assert_allclose(tflite_probabilities(exported, model_input[:1]), expected[:1], atol=1e-5)


def test_the_predictor_settings_are_written_beside_the_model(exported, predictor):
    config = json.loads((exported.parent / "predictor.json").read_text())

    for key in ("classes", "preprocessing", "calibration", "decision"):
        assert config[key] == predictor.config[key]
    assert config["tflite"]["model_file"] == exported.name
    assert config["tflite"]["input"]["shape"] == [None, IMAGE_SIZE, IMAGE_SIZE, 1]
    assert sorted(path.name for path in exported.parent.iterdir()) == ["classifier.tflite", "predictor.json"]


def test_a_shift_reference_stays_with_the_keras_package(tmp_path, predictor):
    referenced = with_shift_reference(predictor, smooth_images(20, seed=9))

    exported = export_tflite(referenced, tmp_path / "classifier.tflite")

    config = json.loads((exported.parent / "predictor.json").read_text())
    assert "shift_reference" not in config and config["decision"] == referenced.config["decision"]
    assert sorted(path.name for path in exported.parent.iterdir()) == ["classifier.tflite", "predictor.json"]


def test_a_conversion_that_computes_something_else_writes_nothing(tmp_path, predictor, monkeypatch):
    monkeypatch.setattr(
        "pediatric_pneumonia.inference.export.tflite_probabilities",
        lambda path, model_input: np.full(len(model_input), np.nan),
    )

    with pytest.raises(ExportError, match="different probabilities"):
        export_tflite(predictor, tmp_path / "classifier.tflite")
    assert list(tmp_path.iterdir()) == []


def test_a_seed_ensemble_exports_as_one_model_of_its_mean_logit(tmp_path):
    ensemble = make_ensemble_predictor(3)
    ensemble.config["inference"]["tta"] = {"transforms": ["shift_up"], "shift_fraction": 0.05, "zoom": 0.1}
    stored = np.random.default_rng(8).integers(0, 256, (4, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    model_input = as_model_input(stored, ensemble.preprocessing["intensity"])

    exported = export_tflite(ensemble, tmp_path / "classifier.tflite")

    np.testing.assert_allclose(
        tflite_probabilities(exported, model_input),
        ensemble.classifier.predict(model_input, verbose=0).reshape(-1),
        atol=1e-5,
    )
    config = json.loads((tmp_path / "predictor.json").read_text())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["classifier.tflite", "predictor.json"]
    assert config["inference"]["tta"]["transforms"] == ["shift_up"]
    assert "inference.tta" in config["tflite"]["test_time_augmentation"]


def test_the_two_class_output_is_described_as_before(exported):
    description = json.loads((exported.parent / "predictor.json").read_text())["tflite"]

    assert description["output"] == {
        "shape": [None, 1],
        "dtype": "float32",
        "values": "raw sigmoid probability of PNEUMONIA, before calibration",
    }
    assert "answer" not in description


# The fixed three-class model calls the flat images NORMAL, BACTERIA and VIRUS; the seeded CNN has a convolution.
@pytest.mark.parametrize("network", [gray_levels_model, gray_levels_cnn], ids=["fixed", "cnn"])
def test_a_three_class_model_exports_each_class_probability_and_how_to_reach_the_packages_answer(tmp_path, network):
    predictor = Predictor(
        network(), {**three_class_predictor().config, "calibration": {"method": "temperature", "temperature": 2.0}}
    )
    stored = np.concatenate([flat_images([20, 130, 240], size=8), smooth_images(3, seed=11, size=8)])

    exported = export_tflite(predictor, tmp_path / "classifier.tflite")

    config = json.loads((tmp_path / "predictor.json").read_text())
    description = config["tflite"]
    raw = tflite_probabilities(exported, predictor.model_input(stored))
    # What a phone does with predictor.json alone: calibrate each row, then the argmax and 1 - P(NORMAL).
    calibrated = softmax(np.log(np.maximum(raw, 1e-7)) / config["calibration"]["temperature"], axis=1)
    predictions = predictor.predict_batch(list(stored))
    assert description["output"]["shape"] == [None, 3] and description["output"]["classes"] == CLASSES
    assert config["classes"] == CLASSES and config["decision"] == predictor.config["decision"]
    assert {"calibration", "label", "probability", "threshold"} <= description["answer"].keys()
    np.testing.assert_allclose(raw, predictor.raw_probabilities(stored), atol=1e-5)
    np.testing.assert_allclose(
        calibrated, [[prediction.probabilities[name] for name in CLASSES] for prediction in predictions], atol=1e-5
    )
    np.testing.assert_allclose(1 - calibrated[:, 0], [prediction.probability for prediction in predictions], atol=1e-5)
    assert [CLASSES[index] for index in np.argmax(calibrated, axis=1)] == [
        prediction.label for prediction in predictions
    ]


def test_a_three_class_models_test_time_augmentation_averages_log_probabilities():
    predictor = three_class_predictor()
    predictor.config["inference"]["tta"] = {"transforms": ["shift_up"], "shift_fraction": 0.05, "zoom": 0.1}

    steps = tflite_description(predictor, "classifier.tflite")["test_time_augmentation"]

    assert "log-probability" in steps and steps.endswith("then the softmax")
