"""Every architecture family builds, trains a step, names its last feature map, round-trips through
the predictor package with Keras' safe mode on and explains itself with Grad-CAM."""

import keras
import numpy as np
import pytest

from pediatric_pneumonia.evaluation.synthesis_features import feature_extractor
from pediatric_pneumonia.explain import grad_cam
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.models.architectures import FAMILY_BUILDERS, feature_map_layer_name
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.parameters import ARCHITECTURE_FAMILIES, ParameterError
from tests.conftest import PAPER_ARCHITECTURE
from tests.inference.conftest import predictor_around

SIZE = 32  # the smallest side keras.applications take
INTENSITY = {"method": "none", "clahe_clip_limit": 2.0, "clahe_tile_grid": 2, "percentiles": [1, 99]}
# The keras.applications families cost minutes each on 2 busy cores: tests/models/test_applications.py.
COMPACT_FAMILIES = ["paper", "residual"]


def family_architecture(family: str, **keys) -> dict:
    return {**PAPER_ARCHITECTURE, "family": family, **keys}


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


def check_family_in_every_library_path(model: keras.Model, tmp_path) -> None:
    """One training step, the feature map and vector, Grad-CAM, and the package round trip."""
    images, labels = images_and_labels()
    loss = model.train_on_batch(images, labels.astype(np.float32))
    assert np.isfinite(loss).all()
    assert model.layers[-1].name == "pneumonia_probability" and model.output_shape == (None, 1)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)
    feature_map = model.get_layer(feature_map_layer_name(model))
    assert len(feature_map.output.shape) == 4
    vectors = feature_extractor(model).predict(images, verbose=0)
    assert vectors.shape == (len(images), feature_map.output.shape[-1])
    heatmaps = grad_cam(model, images[:2])
    assert heatmaps.shape == (2, SIZE, SIZE) and np.isfinite(heatmaps).all()
    predictor = predictor_around(model, INTENSITY)
    predictor.save(tmp_path / "package")
    loaded = Predictor.from_package(tmp_path / "package")  # safe mode: no custom or Lambda layer may be needed
    np.testing.assert_allclose(
        loaded.raw_probabilities(images[..., 0].astype(np.uint8)),
        predictor.raw_probabilities(images[..., 0].astype(np.uint8)),
        atol=1e-6,
    )


@pytest.mark.parametrize("family", COMPACT_FAMILIES)
def test_a_compact_family_trains_explains_and_round_trips(family, tmp_path):
    keras.utils.set_random_seed(0)
    check_family_in_every_library_path(build_classifier((SIZE, SIZE, 1), family_architecture(family)), tmp_path)


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
