import warnings

import numpy as np
import pytest

from pediatric_pneumonia.evaluation.synthesis import (
    frechet_distance,
    kernel_inception_distance,
    manifold_precision_recall,
    memorization,
    subsample,
    synthetic_image_scores,
    trace_of_product_root,
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


def test_the_root_of_a_covariance_product_has_the_closed_form_trace():
    assert trace_of_product_root(np.diag([4.0, 9.0]), np.diag([1.0, 4.0])) == pytest.approx(2.0 + 6.0)
    covariance = np.cov(gaussian(50), rowvar=False)
    assert trace_of_product_root(covariance, covariance) == pytest.approx(np.trace(covariance))


def test_fid_of_fewer_images_than_features_with_a_constant_feature_is_finite_exact_and_silent():
    # Singular covariances, as a small run's features give: scipy.linalg.sqrtm of their product
    # is not finite on SciPy 1.18 (and sqrtm(..., disp=False) is a TypeError there, a
    # DeprecationWarning on 1.17).
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    first[:, :3] = 1.0
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    eigenvalues = np.linalg.eigvals(cov_first @ cov_second).real  # real and >= 0 up to rounding
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    expected = mean_gap @ mean_gap + np.trace(cov_first + cov_second) - 2 * np.sqrt(np.clip(eigenvalues, 0, None)).sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        distance = frechet_distance(first, second)

    assert np.isfinite(distance)
    assert distance == pytest.approx(expected, rel=1e-6)


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


def test_scores_put_synthetic_copies_beside_the_real_vs_real_floor():
    training, held_out = gaussian(200, seed=1), gaussian(100, seed=2)
    sets = {"training": training, "held_out": held_out, "synthetic": training[:40] + 1e-9}

    scores, distance, index = synthetic_image_scores(sets, sets, nearest_k=3, memorization_percentile=1)

    assert scores["memorized_share_pixels"] == scores["memorized_share_features"] == 1.0
    assert scores["precision"] == 1.0
    assert scores["fid_over_real_vs_real"] == pytest.approx(scores["fid"] / scores["fid_real_vs_real"])
    assert index.tolist() == list(range(40)) and np.allclose(distance, 0.0, atol=1e-6)


def test_subsample_keeps_a_small_set_whole_and_draws_a_large_one_without_repeats():
    images = np.arange(10)
    assert subsample(images, 20, np.random.default_rng(0)) is images
    drawn = subsample(images, 4, np.random.default_rng(0))
    assert len(drawn) == 4 and len(set(drawn.tolist())) == 4 and drawn.tolist() == sorted(drawn.tolist())
