import numpy as np

from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.synthesis_report.nodes import (
    assess_synthetic_images,
    plot_closest_pairs,
    plot_sample_grids,
)
from tests.conftest import CLASSES, PAPER_ARCHITECTURE, preprocessing_parameters, random_image_set

REPORT = {
    "seed": 0,
    "max_images": 10,
    "batch_size": 4,
    "nearest_k": 2,
    "memorization_percentile": 1,
    "closest_pairs": 3,
    "grid_images": 4,
}
PREPROCESSING = preprocessing_parameters(intensity={"method": "none"})


def synthetic_copies(train_set: dict, count: int) -> dict:
    """``count`` NORMAL training images, named as images of the GAN profile ``cpu``."""
    return {
        "images": train_set["images"][:count],
        "labels": np.zeros(count, dtype=np.uint8),
        "paths": np.array([f"synthetic:cpu/synthetic_normal_{i:05d}" for i in range(count)]),
    }


def test_copies_of_training_images_are_reported_memorized_and_shown_beside_their_originals():
    train_set = random_image_set(normal=10, pneumonia=4, size=16)
    validation_set = random_image_set(normal=6, pneumonia=2, size=16)
    validation_set["images"] = np.random.default_rng(1).integers(0, 256, validation_set["images"].shape, dtype=np.uint8)
    classifier = build_classifier((16, 16, 1), PAPER_ARCHITECTURE)

    metrics, shown = assess_synthetic_images(
        classifier, train_set, validation_set, synthetic_copies(train_set, 5), CLASSES, "NORMAL", check_parameters("synthesis_report", REPORT), PREPROCESSING
    )

    assert metrics["gan_profile"] == "cpu"
    assert (metrics["n_synthetic"], metrics["n_training"], metrics["n_held_out"]) == (5, 10, 6)
    assert metrics["memorized_share_pixels"] == 1.0
    assert all(np.isfinite(metrics[name]) for name in ("kid", "fid", "fid_real_vs_real", "precision", "recall"))
    assert shown["synthetic"].shape == (4, 16, 16) and shown["real"].shape == (4, 16, 16)
    pairs = shown["closest"].reshape(3, 2, 16, 16)
    np.testing.assert_array_equal(pairs[:, 0], pairs[:, 1])  # each copy beside the image it copies
    assert plot_sample_grids(shown).axes and plot_closest_pairs(shown).axes
