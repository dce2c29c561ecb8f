import numpy as np
import pytest

from pediatric_pneumonia.class_balance import (
    check_synthetic_balancing_classes,
    synthetic_images_made,
    synthetic_images_needed,
)

COUNTS = np.array([5, 12])  # NORMAL, PNEUMONIA


def test_the_synthesis_makes_the_gap_between_the_largest_class_and_its_own():
    assert synthetic_images_made(COUNTS, 0) == 7
    assert synthetic_images_made(COUNTS, 1) == 0


def test_gan_takes_the_whole_gap_and_combined_its_share_of_the_grown_gap():
    assert synthetic_images_needed("gan", {}, COUNTS, 0) == synthetic_images_made(COUNTS, 0)
    combined = {"target_scale": 1.5, "synthetic_share": 0.4}
    assert synthetic_images_needed("combined", combined, COUNTS, 0) == round(0.4 * (18 - 5))
    assert synthetic_images_needed("baseline", {}, COUNTS, 0) == 0


def test_synthetic_image_strategies_are_refused_for_more_than_two_classes_only():
    three_classes = ["NORMAL", "BACTERIA", "VIRUS"]
    check_synthetic_balancing_classes(["combined", "gan"], ["NORMAL", "PNEUMONIA"], "NORMAL")
    check_synthetic_balancing_classes([], three_classes, "NORMAL")

    with pytest.raises(ValueError, match=r"\['gan'\] balance with the DCGAN's NORMAL images") as refusal:
        check_synthetic_balancing_classes(["gan"], three_classes, "NORMAL")
    assert "needs a generator per smaller class" in str(refusal.value)
    assert "Run baseline, augmentation, class_weight or oversample for this task" in str(refusal.value)
