import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from pediatric_pneumonia.explain import (
    border_mass_share,
    grad_cam,
    overlay_heatmap,
    randomised_copy,
    rank_correlation,
)
from pediatric_pneumonia.models.architectures import feature_map_layer_name
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.ensemble import build_ensemble, ensemble_members

from ..conftest import PAPER_ARCHITECTURE
from .quadrant_model import SIZE, quadrant_masses, square_images, trained_quadrant_model


def model_input(images: np.ndarray) -> np.ndarray:
    return images[..., np.newaxis].astype(np.float32)


def pneumonia_input(count: int, seed: int) -> np.ndarray:
    """``count`` model inputs with the square (normal images have no evidence to map)."""
    images, labels = square_images(4 * count, seed)
    return model_input(images[labels == 1][:count])


def test_grad_cam_heat_peaks_in_the_quadrant_whose_square_means_pneumonia():
    images, labels = square_images(24, seed=1)
    heatmaps = grad_cam(trained_quadrant_model(), model_input(images[labels == 1]))

    assert all(np.argmax(quadrant_masses(heatmap)) == 0 for heatmap in heatmaps)
    assert sum(quadrant_masses(heatmaps.sum(axis=0))[1:]) < 0.2 * heatmaps.sum()


def test_grad_cam_gives_one_map_per_image_in_zero_to_one_at_the_input_size():
    heatmaps = grad_cam(trained_quadrant_model(), pneumonia_input(5, seed=2), batch_size=2)

    assert heatmaps.shape == (5, SIZE, SIZE) and heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0 and np.allclose(heatmaps.max(axis=(1, 2)), 1.0)


def test_a_model_with_dead_relus_gives_all_zero_maps_not_nan():
    model = build_classifier((SIZE, SIZE, 1), PAPER_ARCHITECTURE)
    conv = model.get_layer("conv_2")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel, np.full_like(bias, -1e3)])

    heatmaps = grad_cam(model, model_input(square_images(3, seed=3)[0]))

    assert not np.isnan(heatmaps).any() and not heatmaps.any()


def test_same_model_maps_agree_fully_and_randomised_model_maps_do_not():
    model = trained_quadrant_model()
    images = pneumonia_input(12, seed=4)
    heatmaps = grad_cam(model, images)

    same = [rank_correlation(a, b) for a, b in zip(heatmaps, grad_cam(model, images))]
    randomised = [rank_correlation(a, b) for a, b in zip(heatmaps, grad_cam(randomised_copy(model, seed=0), images))]

    assert np.allclose(same, 1.0)
    assert abs(np.mean(randomised)) < 0.3


def test_randomised_copy_reinitialises_every_kernel_and_leaves_the_model_untouched():
    model = trained_quadrant_model()
    weights_before = [weights.copy() for weights in model.get_weights()]

    copy, same_seed_copy = randomised_copy(model, seed=7), randomised_copy(model, seed=7)

    assert all(np.array_equal(a, b) for a, b in zip(weights_before, model.get_weights()))
    for layer in copy.layers:
        if hasattr(layer, "kernel"):
            assert not np.allclose(layer.kernel.numpy(), model.get_layer(layer.name).kernel.numpy())
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), same_seed_copy.get_weights()))


def test_the_last_feature_map_is_found_and_a_model_without_one_is_refused():
    assert feature_map_layer_name(build_classifier((SIZE, SIZE, 1), PAPER_ARCHITECTURE)) == "conv_2"
    inputs = keras.Input((4, 4, 1))
    dense_only = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="no Conv2D layer"):
        feature_map_layer_name(dense_only)


def test_an_unknown_layer_is_refused_with_the_layer_names():
    images = model_input(square_images(1, seed=5)[0])
    with pytest.raises(ValueError, match="Layer 'conv_9' is not in model.*conv_2"):
        grad_cam(trained_quadrant_model(), images, layer_name="conv_9")


def test_an_earlier_layer_can_be_explained():
    heatmaps = grad_cam(trained_quadrant_model(), model_input(square_images(2, seed=6)[0]), layer_name="conv_1")
    assert heatmaps.shape == (2, SIZE, SIZE)


def test_overlay_is_rgb_uint8_and_alpha_blends_gray_and_colour():
    image = np.full((6, 8), 100, dtype=np.uint8)
    heatmap = np.zeros((6, 8), dtype=np.float32)
    heatmap[:, 4:] = 1.0

    gray_only, colour_only = overlay_heatmap(image, heatmap, alpha=0.0), overlay_heatmap(image, heatmap, alpha=1.0)

    assert gray_only.shape == (6, 8, 3) and gray_only.dtype == np.uint8
    assert (gray_only == 100).all()
    cold, hot = colour_only[0, 0], colour_only[0, 7]
    assert cold[2] > cold[0] and hot[0] > hot[2]  # JET: blue where cold, red where hot (RGB order)
    with pytest.raises(ValueError, match="same shape"):
        overlay_heatmap(image, heatmap[:3])


def test_border_mass_share_of_a_uniform_map_is_the_border_area_share():
    # 20x20, border 0.1 = 2 pixels: the interior is 16x16.
    assert border_mass_share(np.ones((20, 20)), 0.1) == pytest.approx(1 - 16 * 16 / 400)
    centre = np.zeros((20, 20))
    centre[8:12, 8:12] = 1
    assert border_mass_share(centre, 0.1) == 0.0
    assert border_mass_share(np.zeros((20, 20)), 0.1) == 0.0
    with pytest.raises(ValueError, match=r"\(0, 0.5\)"):
        border_mass_share(centre, 0.5)


def test_rank_correlation_is_spearman_and_zero_for_a_constant_map():
    ramp = np.arange(16, dtype=float).reshape(4, 4)
    assert rank_correlation(ramp, ramp**2) == pytest.approx(1.0)
    assert rank_correlation(ramp, -ramp) == pytest.approx(-1.0)
    assert rank_correlation(ramp, np.zeros((4, 4))) == 0.0


JAX_GRAD_CAM = """
import sys
import keras
import numpy as np
from pediatric_pneumonia.explain import grad_cam
assert keras.backend.backend() == "jax"
model = keras.models.load_model(sys.argv[1])
np.save(sys.argv[3], grad_cam(model, np.load(sys.argv[2])))
"""


def test_the_jax_backend_gives_the_same_maps_as_tensorflow(tmp_path):
    pytest.importorskip("jax")
    images = model_input(square_images(4, seed=8)[0])
    trained_quadrant_model().save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)

    subprocess.run(
        [sys.executable, "-c", JAX_GRAD_CAM, tmp_path / "model.keras", tmp_path / "images.npy", tmp_path / "maps.npy"],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        check=True,
    )

    np.testing.assert_allclose(np.load(tmp_path / "maps.npy"), grad_cam(trained_quadrant_model(), images), atol=0.02)


def test_grad_cam_of_a_seed_ensemble_is_the_mean_of_its_members_maps():
    members = [build_classifier((SIZE, SIZE, 1), PAPER_ARCHITECTURE) for _ in range(2)] + [trained_quadrant_model()]
    images = pneumonia_input(4, seed=5)
    ensemble = build_ensemble(members)

    member_maps = [grad_cam(member, images) for member in members]

    np.testing.assert_allclose(grad_cam(ensemble, images), np.mean(member_maps, axis=0), atol=1e-6)
    randomised = randomised_copy(ensemble, seed=0)
    assert [member.name for member in ensemble_members(randomised)] == ["member_0", "member_1", "member_2"]
    for original, copy in zip(ensemble_members(ensemble), ensemble_members(randomised)):
        assert not np.allclose(copy.get_layer("conv_1").kernel.numpy(), original.get_layer("conv_1").kernel.numpy())
