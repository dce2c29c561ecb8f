import numpy as np

from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.synthesis_report.nodes import (
    assess_synthetic_images,
    plot_closest_pairs,
    plot_sample_grids,
    synthesis_report_metrics,
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

    report, shown = assess_synthetic_images(
        classifier, train_set, validation_set, synthetic_copies(train_set, 5), CLASSES, check_parameters("synthesis_report", REPORT), PREPROCESSING
    )

    assert report["gan_profile"] == "cpu" and list(report["classes"]) == list(shown) == ["NORMAL"]
    metrics, images = report["classes"]["NORMAL"], shown["NORMAL"]
    assert (metrics["n_synthetic"], metrics["n_training"], metrics["n_held_out"]) == (5, 10, 6)
    assert metrics["memorized_share_pixels"] == 1.0
    assert all(np.isfinite(metrics[name]) for name in ("kid", "fid", "fid_real_vs_real", "precision", "recall"))
    assert images["synthetic"].shape == (4, 16, 16) and images["real"].shape == (4, 16, 16)
    pairs = images["closest"].reshape(3, 2, 16, 16)
    np.testing.assert_array_equal(pairs[:, 0], pairs[:, 1])  # each copy beside the image it copies
    assert plot_sample_grids(shown).axes and plot_closest_pairs(shown).axes
    assert synthesis_report_metrics(report)["normal.memorized_share_pixels"] == {"value": 1.0, "step": 0}


def test_each_synthesised_class_is_reported_against_its_own_real_images():
    train_set = random_image_set(normal=10, pneumonia=20, size=16)
    train_set["labels"] = np.array([0] * 10 + [1] * 12 + [2] * 8, dtype=np.uint8)
    validation_set = random_image_set(normal=4, pneumonia=6, size=16)
    validation_set["labels"] = np.array([0] * 4 + [1] * 3 + [2] * 3, dtype=np.uint8)
    virus_copies = {
        "images": train_set["images"][22:26],
        "labels": np.full(4, 2, dtype=np.uint8),
        "paths": np.array([f"synthetic:cpu/synthetic_virus_{i:05d}" for i in range(4)]),
    }
    synthetic_set = {name: np.concatenate([synthetic_copies(train_set, 2)[name], virus_copies[name]]) for name in virus_copies}  # 2 NORMAL, too few for k = 2
    classifier = build_classifier((16, 16, 1), PAPER_ARCHITECTURE, n_classes=3)

    report, shown = assess_synthetic_images(
        classifier, train_set, validation_set, synthetic_set, ["NORMAL", "BACTERIA", "VIRUS"], check_parameters("synthesis_report", REPORT), PREPROCESSING
    )

    assert list(report["classes"]) == ["NORMAL", "VIRUS"]
    virus = report["classes"]["VIRUS"]
    assert (virus["n_synthetic"], virus["n_training"], virus["n_held_out"]) == (4, 8, 3)
    assert virus["memorized_share_pixels"] == 1.0  # copies of VIRUS training images, found among the VIRUS ones
    assert report["classes"]["NORMAL"] == {
        "n_training": 10,
        "n_held_out": 4,
        "n_synthetic": 2,
        "not_assessed": "too few images for synthesis_report.nearest_k 2: synthetic 2 < 3",
    }
    assert "virus.kid" in synthesis_report_metrics(report) and "normal.n_synthetic" in synthesis_report_metrics(report)
    assert list(shown) == ["VIRUS"]
    assert len(plot_sample_grids(shown).axes) == 2 and len(plot_closest_pairs(shown).axes) == 1
    assert plot_sample_grids({}).axes[0].texts  # nothing to show is said, not an empty crash
