import numpy as np
import pytest

from pediatric_pneumonia.evaluation.comparison import (
    holm_adjust,
    mcnemar_exact,
    mean_macro_roc_auc,
    paired_bootstrap_auc_difference,
)


def paired_outcomes(both_right: int, only_reference: int, only_other: int, both_wrong: int) -> tuple:
    reference = [True] * both_right + [True] * only_reference + [False] * only_other + [False] * both_wrong
    other = [True] * both_right + [False] * only_reference + [True] * only_other + [False] * both_wrong
    return np.array(reference), np.array(other)


def test_mcnemar_counts_the_discordant_images_and_matches_the_hand_computed_p():
    # b=1, c=9: P(X <= 1 | n=10, 1/2) = 11/1024, two-sided 22/1024 = 0.0215.
    result = mcnemar_exact(*paired_outcomes(both_right=30, only_reference=1, only_other=9, both_wrong=5))
    assert (result["b"], result["c"]) == (1, 9)
    assert result["p_value"] == pytest.approx(22 / 1024)
    assert round(result["p_value"], 4) == 0.0215


def test_mcnemar_is_symmetric_and_gives_one_without_discordant_images():
    reference, other = paired_outcomes(both_right=10, only_reference=3, only_other=7, both_wrong=2)
    assert mcnemar_exact(reference, other)["p_value"] == pytest.approx(mcnemar_exact(other, reference)["p_value"])
    same = mcnemar_exact(reference, reference)
    assert same == {"b": 0, "c": 0, "p_value": 1.0}


def test_mcnemar_refuses_unpaired_outcomes():
    with pytest.raises(ValueError, match="same images"):
        mcnemar_exact(np.ones(5, dtype=bool), np.ones(4, dtype=bool))


def test_holm_matches_the_hand_computed_step_down_and_keeps_the_keys():
    # Sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06.
    adjusted = holm_adjust({"a": 0.01, "b": 0.04, "c": 0.03})
    assert list(adjusted) == ["a", "b", "c"]
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})


def test_holm_caps_at_one_and_leaves_a_single_test_alone():
    assert holm_adjust({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}
    assert holm_adjust({"only": 0.02}) == {"only": 0.02}
    assert holm_adjust({}) == {}


def scored_patients(seed: int = 0) -> tuple:
    """30 patients of 2 images each; the reference scores are noisy, the other's nearly perfect."""
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(30), 2)
    targets = (patients % 3 != 0).astype(int)  # 10 NORMAL, 20 PNEUMONIA patients
    reference = np.clip(0.5 + 0.25 * (targets - 0.5) + rng.normal(0, 0.3, targets.size), 0, 1)
    better = np.clip(0.5 + 0.8 * (targets - 0.5) + rng.normal(0, 0.05, targets.size), 0, 1)
    return targets, reference, better, patients


def test_identical_scores_give_a_zero_difference_and_p_one():
    targets, reference, _, patients = scored_patients()
    result = paired_bootstrap_auc_difference(targets, reference, reference.copy(), patients, 200, 0, 0.95)
    assert result == {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}


def test_a_clearly_better_model_has_a_positive_difference_whose_interval_excludes_zero():
    targets, reference, better, patients = scored_patients()
    result = paired_bootstrap_auc_difference(targets, reference, better, patients, 500, 0, 0.95)
    assert result["difference"] > 0.1
    assert 0 < result["ci_low"] <= result["difference"] <= result["ci_high"] <= 1
    assert result["p_value"] < 0.01
    swapped = paired_bootstrap_auc_difference(targets, better, reference, patients, 500, 0, 0.95)
    assert swapped["difference"] == pytest.approx(-result["difference"])
    assert swapped["p_value"] == pytest.approx(result["p_value"])


def test_a_score_matrix_stands_for_the_mean_roc_auc_over_its_seed_columns():
    targets, reference, better, patients = scored_patients()
    two_seeds = np.column_stack([reference, better])
    result = paired_bootstrap_auc_difference(targets, reference, two_seeds, patients, 100, 0, 0.95)
    alone = paired_bootstrap_auc_difference(targets, reference, better, patients, 100, 0, 0.95)
    assert result["difference"] == pytest.approx(alone["difference"] / 2)


def three_class_scores() -> tuple:
    """9 patients of 2 images, 3 per class; the reference calls the first image of each class's
    patients the next class (0.8 there, 0.1 elsewhere), the other model is right everywhere."""
    patients = np.repeat(np.arange(9), 2)
    targets = patients // 3
    wrong = np.arange(18) % 2 == 0
    reference, perfect = np.full((18, 3), 0.1), np.full((18, 3), 0.1)
    reference[np.arange(18), np.where(wrong, (targets + 1) % 3, targets)] = 0.8
    perfect[np.arange(18), targets] = 0.8
    return targets, reference, perfect, patients


def test_the_macro_roc_auc_of_seeds_is_their_mean_and_its_paired_difference_is_bootstrapped():
    targets, reference, perfect, patients = three_class_scores()
    # Each class: 6 positives (3 scored 0.8, 3 scored 0.1), 12 negatives (3 of the previous class
    # scored 0.8): (3 x 9 wins + (3 x 3 + 3 x 9) / 2 ties) / 72 = 0.625.
    assert mean_macro_roc_auc(targets, reference) == pytest.approx(0.625)
    assert mean_macro_roc_auc(targets, np.stack([reference, perfect], axis=1)) == pytest.approx((0.625 + 1) / 2)

    result = paired_bootstrap_auc_difference(targets, reference, perfect, patients, 200, 0, 0.95, auc=mean_macro_roc_auc)
    same = paired_bootstrap_auc_difference(targets, reference, reference.copy(), patients, 200, 0, 0.95, auc=mean_macro_roc_auc)

    assert result["difference"] == pytest.approx(0.375)
    assert 0 < result["ci_low"] <= result["ci_high"] <= 1 and result["p_value"] < 0.05
    assert same == {"difference": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}
