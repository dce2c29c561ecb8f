"""Shift detection on feature vectors: the MMD test is quiet on two halves of one set and fires on
a planted shift, the prevalence test compares predicted positives, the OOD score flags an outlier."""

import numpy as np
import pytest

from pediatric_pneumonia.evaluation.shift import (
    OutOfDistributionScorer,
    TooFewImagesError,
    mmd_test,
    prevalence_test,
    read_stored_images,
    shift_check_report,
    shift_report,
    summary_lines,
)
from tests.evaluation.site_data import gray_predictor, write_flat_png

ALPHA = 0.05
SETTINGS = {"permutations": 199, "alpha": ALPHA, "seed": 0, "max_images": 100, "neighbours": 5, "warning_percentile": 99.0}


def features(count: int, seed: int, dimensions: int = 16) -> np.ndarray:
    """Non-negative, correlated feature rows, as pooled ReLU feature maps are."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(99).normal(size=(dimensions, dimensions))
    return np.maximum(rng.normal(size=(count, dimensions)) @ mixing, 0.0)


def test_two_halves_of_one_set_rarely_differ():
    seeds = range(40)
    fired = sum(mmd_test(*np.split(features(120, seed), 2), permutations=199, seed=seed)["p_value"] < ALPHA for seed in seeds)

    assert fired / len(seeds) <= ALPHA + 0.075  # 40 seeds: the false-alarm rate is near alpha, not above


def test_a_planted_shift_is_found_with_a_small_p_value_and_a_larger_effect():
    reference = features(100, 0)
    shifted = features(60, 1) * 1.3 + 0.5
    same = features(60, 2)

    found, quiet = mmd_test(reference, shifted, 199, 0), mmd_test(reference, same, 199, 0)

    assert found["p_value"] == pytest.approx(1 / 200)
    assert found["effect_size"] > 2 * quiet["effect_size"]
    assert quiet["p_value"] > ALPHA
    assert (found["reference_images"], found["images"], found["permutations"]) == (100, 60, 199)


def test_the_permutation_test_is_reproducible_by_its_seed():
    reference, sample = features(50, 3), features(40, 4)

    assert mmd_test(reference, sample, 99, 7) == mmd_test(reference, sample, 99, 7)


def test_one_image_is_too_few_for_the_test():
    with pytest.raises(ValueError, match="at least 2 images on each side, got 50 and 1"):
        mmd_test(features(50, 0), features(1, 1), 99, 0)


def test_predicted_prevalence_is_compared_at_the_threshold():
    reference = np.array([0.9] * 70 + [0.1] * 30)
    site = np.array([0.9] * 30 + [0.1] * 70)

    result = prevalence_test(reference, site, threshold=0.5)

    assert result["reference_predicted_prevalence"] == 0.7 and result["predicted_prevalence"] == 0.3
    assert result["p_value"] < 1e-6
    assert prevalence_test(reference, reference, 0.5)["p_value"] == pytest.approx(1.0)


def test_an_outlier_scores_above_every_reference_image_and_typical_ones_do_not():
    reference = features(200, 0)
    scorer = OutOfDistributionScorer(reference, neighbours=5)
    outlier = reference.mean(0, keepdims=True) + 20 * reference.std(0)

    typical = scorer.scores(features(200, 1))

    assert scorer.scores(outlier)[0] == 100.0
    assert np.mean(typical > 99) < 0.05
    assert 20 < np.median(typical) < 80


def test_the_report_says_shift_in_plain_words_and_when_counts_are_small():
    reference, probabilities = features(100, 0), np.linspace(0, 1, 100)
    shifted = features(10, 1) + 3.0
    scores = OutOfDistributionScorer(reference, 5).scores(shifted)

    report = shift_report(reference, probabilities, shifted, np.full(10, 0.9), scores, 0.5, SETTINGS)
    text = "\n".join(summary_lines(report))

    assert report["shifted"] and report["mmd"]["shifted"]
    assert report["out_of_distribution"]["share_over_cutoff"] > 0.5
    assert "SHIFT DETECTED" in text and "Only 10 images" in text


def test_stored_images_keep_the_readable_files_in_order_and_say_why_the_others_are_not(tmp_path):
    first, second = write_flat_png(tmp_path / "a.png", 10), write_flat_png(tmp_path / "c.png", 200)
    (tmp_path / "b.png").write_text("not an image")

    stored = read_stored_images(gray_predictor(), [first, tmp_path / "b.png", second, tmp_path / "gone.png"])

    assert stored.sources == [str(first), str(second)] and stored.images.shape[0] == 2
    assert list(stored.unreadable) == [str(tmp_path / "b.png"), str(tmp_path / "gone.png")]
    assert "is not a file" in stored.unreadable[str(tmp_path / "gone.png")]


def test_a_shift_check_of_fewer_than_two_readable_images_is_refused_with_the_counts(tmp_path):
    (tmp_path / "b.png").write_text("not an image")
    stored = read_stored_images(gray_predictor(), [write_flat_png(tmp_path / "a.png", 10), tmp_path / "b.png"])

    with pytest.raises(TooFewImagesError, match=r"1 readable image\(s\) of 2 files: a shift check needs at least 2"):
        shift_check_report(gray_predictor(), tmp_path, stored, {})
