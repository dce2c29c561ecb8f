import numpy as np

from pediatric_pneumonia.class_balance import synthetic_images_made, synthetic_images_needed

COUNTS = np.array([5, 12])  # NORMAL, PNEUMONIA


def test_the_synthesis_makes_the_gap_between_the_largest_class_and_its_own():
    assert synthetic_images_made(COUNTS, 0) == 7
    assert synthetic_images_made(COUNTS, 1) == 0


def test_gan_takes_the_whole_gap_and_combined_its_share_of_the_grown_gap():
    assert synthetic_images_needed("gan", {}, COUNTS, 0) == synthetic_images_made(COUNTS, 0)
    combined = {"target_scale": 1.5, "synthetic_share": 0.4}
    assert synthetic_images_needed("combined", combined, COUNTS, 0) == round(0.4 * (18 - 5))
    assert synthetic_images_needed("baseline", {}, COUNTS, 0) == 0
