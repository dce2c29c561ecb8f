import numpy as np
import pytest

from pediatric_pneumonia.pipelines.synthesis_report.nodes import (
    frechet_distance,
    kernel_inception_distance,
    manifold_precision_recall,
    memorization,
)


def gaussian(count: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, (count, 8))


def test_kid_is_about_zero_for_samples_of_one_distribution_and_large_for_disjoint_ones():
    same = kernel_inception_distance(gaussian(400, seed=1), gaussian(400, seed=2))
    apart = kernel_inception_distance(gaussian(400, seed=1), gaussian(400, shift=5.0, seed=2))
    assert abs(same) < 0.05
    assert apart > 100 * max(abs(same), 1e-3)


def test_fid_is_zero_for_identical_sets_and_grows_with_the_shift():
    points = gaussian(300)
    assert frechet_distance(points, points) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(points, points + 3.0) == pytest.approx(8 * 9.0, rel=1e-6)


def test_precision_and_recall_of_identical_and_disjoint_sets():
    points = gaussian(200)
    assert manifold_precision_recall(points, points, k=3) == (1.0, 1.0)
    assert manifold_precision_recall(points, points + 100.0, k=3) == (0.0, 0.0)


def test_copies_of_training_images_are_all_memorized():
    training, held_out = gaussian(200, seed=1), gaussian(100, seed=2)
    share, distance, index = memorization(training[:50], training, held_out, percentile=1)
    assert share == 1.0
    assert np.allclose(distance, 0.0, atol=1e-6)
    assert index.tolist() == list(range(50))


def test_new_samples_of_the_same_distribution_are_rarely_memorized():
    training, held_out, synthetic = gaussian(300, seed=1), gaussian(200, seed=2), gaussian(200, seed=3)
    share, _, _ = memorization(synthetic, training, held_out, percentile=1)
    assert share < 0.05
