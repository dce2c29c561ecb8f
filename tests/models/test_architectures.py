"""Every architecture family builds, trains a step, names its last feature map, explains itself with
Grad-CAM, round-trips through the predictor package with Keras' safe mode on, exports to TFLite and
serves as an MLflow model."""

import cv2
import keras
import mlflow
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.choices import ARCHITECTURE_FAMILIES
from pediatric_pneumonia.explain import grad_cam
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.export import export_tflite, tflite_probabilities
from pediatric_pneumonia.inference.mlflow_model import log_predictor_model
from pediatric_pneumonia.models.architectures import FAMILY_BUILDERS, feature_map_layer_name
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.features import feature_extractor
from pediatric_pneumonia.parameters import ParameterError
from tests.conftest import PAPER_ARCHITECTURE
from tests.inference.conftest import predictor_around

SIZE = 32  # the smallest side keras.applications take
INTENSITY = {"method": "none", "clahe_clip_limit": 2.0, "clahe_tile_grid": 2, "percentiles": [1, 99]}
# The TFLite and MLflow paths take the cheap families: the big keras.applications go through the same
# builder as mobilenetv3small and add about 2 minutes on 2 cores there (the package round trip has them all).
EXPORTED_FAMILIES = ["paper", "residual", "mobilenetv3small"]
LIBRARY_FAMILIES = [family for family in ARCHITECTURE_FAMILIES if family not in ("paper", "residual")]


def family_architecture(family: str, **keys) -> dict:
    return {**PAPER_ARCHITECTURE, "family": family, **keys}


def marked_slow(families, slow=LIBRARY_FAMILIES) -> list:
    """``families`` as parameters, those in ``slow`` marked slow. A training step of a keras.applications
    network takes 10 to 40 s on 2 cores, a build of the big ones 1 to 4 s: the fast tier builds
    mobilenetv3small only, the slow tier every family."""
    return [pytest.param(family, marks=pytest.mark.slow) if family in slow else family for family in families]


def images_and_labels(count: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, SIZE, SIZE, 1)).astype(np.float32), np.arange(count) % 2


def test_the_family_table_and_the_schema_name_the_same_families():
    assert list(FAMILY_BUILDERS) == list(ARCHITECTURE_FAMILIES)


def test_no_family_is_the_paper_family_layer_for_layer_and_weight_for_weight():
    keras.utils.set_random_seed(3)
    implicit = build_classifier((48, 48, 1), PAPER_ARCHITECTURE)
    keras.utils.set_random_seed(3)
    explicit = build_classifier((48, 48, 1), family_architecture("paper"))
    assert [layer.name for layer in implicit.layers] == [layer.name for layer in explicit.layers]
    assert all(np.array_equal(a, b) for a, b in zip(implicit.get_weights(), explicit.get_weights()))


@pytest.mark.parametrize("family", marked_slow(LIBRARY_FAMILIES, slow=("densenet121", "efficientnetv2b0", "resnet50v2")))
def test_every_batch_normalization_of_a_library_network_takes_the_configured_momentum(family):
    model = build_classifier((SIZE, SIZE, 1), family_architecture(family, batch_norm_momentum=0.8))
    momenta = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {0.8}
    # and the model rebuilt from its saved configuration keeps it
    rebuilt = keras.Model.from_config(model.get_config())
    assert {layer.momentum for layer in rebuilt.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.8}


@pytest.fixture(scope="module", params=marked_slow(ARCHITECTURE_FAMILIES))
def trained_family(request) -> tuple[str, keras.Model]:
    """Each family and its model after one training step on tiny random images."""
    keras.utils.set_random_seed(0)
    model = build_classifier((SIZE, SIZE, 1), family_architecture(request.param))
    images, labels = images_and_labels()
    assert np.isfinite(model.train_on_batch(images, labels.astype(np.float32))).all()
    return request.param, model


def test_every_family_ends_in_the_probability_and_pools_its_last_feature_map(trained_family):
    _, model = trained_family
    images, _ = images_and_labels()
    assert model.layers[-1].name == "pneumonia_probability" and model.output_shape == (None, 1)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    feature_map = model.get_layer(feature_map_layer_name(model))
    assert len(feature_map.output.shape) == 4
    vectors = feature_extractor(model).predict(images, verbose=0)
    assert vectors.shape == (len(images), feature_map.output.shape[-1])
    heatmaps = grad_cam(model, images[:2])
    assert heatmaps.shape == (2, SIZE, SIZE) and np.isfinite(heatmaps).all()


def test_every_family_round_trips_through_the_package_with_safe_mode(trained_family, tmp_path):
    _, model = trained_family
    stored = images_and_labels()[0][..., 0].astype(np.uint8)
    predictor = predictor_around(model, INTENSITY)
    predictor.save(tmp_path / "package")
    loaded = Predictor.from_package(tmp_path / "package")  # safe mode: no custom or Lambda layer may be needed
    np.testing.assert_allclose(loaded.raw_probabilities(stored), predictor.raw_probabilities(stored), atol=1e-6)


@pytest.mark.parametrize("trained_family", marked_slow(EXPORTED_FAMILIES), indirect=True)
def test_a_family_exports_to_tflite_computing_the_same(trained_family, tmp_path):
    _, model = trained_family
    predictor = predictor_around(model, INTENSITY)
    model_input = predictor.model_input(images_and_labels()[0][..., 0].astype(np.uint8))
    exported = export_tflite(predictor, tmp_path / "classifier.tflite")
    expected = model.predict(model_input, verbose=0).reshape(-1)
    np.testing.assert_allclose(tflite_probabilities(exported, model_input), expected, atol=1e-4)


@pytest.mark.parametrize("trained_family", marked_slow(EXPORTED_FAMILIES), indirect=True)
def test_a_family_is_logged_and_served_as_an_mlflow_model(trained_family, tracking):
    _, model = trained_family
    predictor = predictor_around(model, INTENSITY)
    predictor.config["validation"] = {"roc_auc": 0.5}
    image = cv2.imencode(".png", images_and_labels()[0][0, ..., 0].astype(np.uint8))[1].tobytes()
    with mlflow.start_run() as run:
        log_predictor_model(predictor, None, "model")
    served = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(pd.DataFrame({"image": [image]}))
    np.testing.assert_allclose(served["probability"], [predictor.predict_batch([image])[0].probability], atol=1e-6)


def test_the_residual_network_is_four_stages_of_doubling_width_pooled_globally():
    model = build_classifier((SIZE, SIZE, 1), family_architecture("residual", width=8))
    assert [model.get_layer(f"stage{stage}_b_conv").filters for stage in (1, 2, 3, 4)] == [8, 16, 32, 64]
    assert feature_map_layer_name(model) == "stage4_out"
    assert model.get_layer("global_pool").output.shape[-1] == 64
    assert model.get_layer("feature_dropout").rate == pytest.approx(0.2)
    assert not any("drop_path" in layer.name for layer in model.layers)  # stochastic depth off by default


def test_stochastic_depth_drops_whole_branches_per_image_linearly_in_depth_and_only_in_training():
    model = build_classifier((SIZE, SIZE, 1), family_architecture("residual", stochastic_depth=0.4))
    drops = [model.get_layer(f"stage{stage}_drop_path") for stage in (1, 2, 3, 4)]
    assert [layer.rate for layer in drops] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    branch = keras.ops.ones((64, 4, 4, 3))
    dropped = keras.ops.convert_to_numpy(drops[-1](branch, training=True))
    per_image = dropped.reshape(64, -1)
    assert all(len(set(row)) == 1 for row in per_image)  # one decision per image, not per pixel
    kept = per_image[:, 0] != 0
    assert 0 < kept.sum() < 64 and np.allclose(per_image[kept], 1 / 0.6)  # survivors scaled by 1 / (1 - rate)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(drops[-1](branch, training=False)), 1.0)


@pytest.mark.parametrize(
    ("family", "keys", "message"),
    [
        ("vit", {}, r"Unknown training.architecture.family 'vit': use one of \('paper', 'residual', 'densenet121'"),
        ("paper", {"width": 32}, r"training.architecture.width is not read by training.architecture.family 'paper'"),
        ("densenet121", {"stochastic_depth": 0.1}, r"stochastic_depth is not read by .*'densenet121' \(only by \['residual'\]\)"),
        ("paper", {"feature_dropout": 0.3}, r"feature_dropout is not read by training.architecture.family 'paper'"),
        ("residual", {"stochastic_depth": 1.0}, r"training.architecture.stochastic_depth must be a drop rate .* in \[0, 1\), got 1.0"),
    ],
)
def test_a_key_the_family_does_not_read_or_an_unknown_family_is_refused(family, keys, message):
    with pytest.raises(ParameterError, match=message):
        build_classifier((SIZE, SIZE, 1), family_architecture(family, **keys))


def test_an_image_smaller_than_the_family_takes_is_refused_with_the_fix():
    with pytest.raises(ParameterError, match=r"family 'densenet121'\) needs images of at least 32 x 32 pixels, but "
                       r"preprocessing.image_size is 28: raise preprocessing.image_size"):
        build_classifier((28, 28, 1), family_architecture("densenet121"))
    with pytest.raises(ParameterError, match=r"family 'paper'\) needs images of at least 10 x 10 pixels"):
        build_classifier((9, 9, 1), PAPER_ARCHITECTURE)
    build_classifier((28, 28, 1), family_architecture("residual"))
