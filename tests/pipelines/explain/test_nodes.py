import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.explain.nodes import (
    plot_contact_sheet,
    render_overlays,
    select_explanation_sample,
    summarise_explanations,
)
from tests.conftest import preprocessing_parameters

EXPLAIN = {
    "per_outcome": 2,
    "max_errors": 3,
    "seed": 0,
    "border_fraction": 0.1,
    "layer": None,
    "alpha": 0.4,
    "contact_sheet_columns": 3,
    "randomisation_seed": 0,
}
CLASSES = ["NORMAL", "PNEUMONIA"]
EXPLAIN_GROUP = check_parameters("explain", EXPLAIN)
NO_NORMALISATION = preprocessing_parameters(intensity={"method": "none"})


def predictions(targets: list[int], probabilities: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": [f"/raw/test/{index}.jpeg" for index in range(len(targets))],
            "target": targets,
            "probability": probabilities,
        }
    )


def test_sample_has_every_error_and_a_seeded_draw_of_correct_predictions():
    # 5 true positives, 5 true negatives, 2 false positives, 1 false negative at threshold 0.5.
    targets = [1] * 5 + [0] * 5 + [0, 0, 1]
    probabilities = [0.9, 0.8, 0.7, 0.95, 0.6] + [0.1, 0.2, 0.3, 0.05, 0.4] + [0.7, 0.55, 0.2]

    sample = select_explanation_sample(predictions(targets, probabilities), {"threshold": 0.5}, CLASSES, EXPLAIN_GROUP)

    counts = sample["outcome"].value_counts().to_dict()
    assert counts == {"true_positive": 2, "true_negative": 2, "false_positive": 2, "false_negative": 1}
    assert set(sample.loc[sample["outcome"].str.startswith("false"), "position"]) == {10, 11, 12}
    again = select_explanation_sample(predictions(targets, probabilities), {"threshold": 0.5}, CLASSES, EXPLAIN_GROUP)
    pd.testing.assert_frame_equal(sample, again)


def test_errors_beyond_the_limit_keep_the_most_confident():
    targets = [0] * 6
    probabilities = [0.6, 0.99, 0.7, 0.95, 0.51, 0.8]

    sample = select_explanation_sample(predictions(targets, probabilities), {"threshold": 0.5}, CLASSES, EXPLAIN_GROUP)

    assert sample["probability"].tolist() == [0.99, 0.95, 0.8]
    assert (sample["outcome"] == "false_positive").all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"per_outcome": -1}, "explain.per_outcome must be a whole number >= 0"),
        ({"max_errors": 2.5}, "explain.max_errors must be a whole number >= 0"),
        ({"border_fraction": 0.5}, r"explain.border_fraction must be .* in \(0, 0.5\)"),
        ({"border_fraction": 0}, r"explain.border_fraction must be .* in \(0, 0.5\)"),
        ({"alpha": 1.5}, r"explain.alpha must be .* in \[0, 1\]"),
        ({"contact_sheet_columns": 0}, "explain.contact_sheet_columns must be a whole number >= 1"),
        ({"layer": ""}, "explain.layer must be null"),
    ],
)
def test_bad_parameters_are_refused_with_what_to_fix(change, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("explain", {**EXPLAIN, **change})


def test_overlays_are_named_by_outcome_class_probability_and_file():
    sample = pd.DataFrame(
        {
            "position": [1, 0],
            "path": ["/raw/test/PNEUMONIA/person1 virus.jpeg", "/raw/test/NORMAL/IM-0001.jpeg"],
            "target": [1, 0],
            "probability": [0.2345, 0.8],
            "outcome": ["false_negative", "false_positive"],
        }
    )
    test_set = {"images": np.zeros((2, 8, 8), dtype=np.uint8)}
    heatmaps = np.zeros((2, 8, 8), dtype=np.float32)

    overlays = render_overlays(test_set, sample, heatmaps, EXPLAIN_GROUP, NO_NORMALISATION, CLASSES)

    assert list(overlays) == [
        "000_false_negative_PNEUMONIA_p0.234_person1-virus",
        "001_false_positive_NORMAL_p0.800_IM-0001",
    ]
    assert overlays["001_false_positive_NORMAL_p0.800_IM-0001"].size == (8, 8)
    assert isinstance(plot_contact_sheet(test_set, sample, heatmaps, EXPLAIN_GROUP, NO_NORMALISATION, CLASSES), Figure)


def test_metrics_give_border_share_and_randomisation_correlation_per_class():
    sample = pd.DataFrame({"target": [0, 1, 1], "outcome": ["true_negative", "true_positive", "false_negative"]})
    uniform, centre, empty = np.ones((10, 10)), np.zeros((10, 10)), np.zeros((10, 10))
    centre[4:6, 4:6] = 1
    heatmaps = np.stack([uniform, centre, empty])
    ramp = np.arange(100.0).reshape(10, 10)

    metrics = summarise_explanations(sample, heatmaps, np.stack([ramp, ramp, ramp]), EXPLAIN_GROUP, CLASSES)

    assert metrics["n_explained"] == 3 and metrics["n_false_negative"] == 1 and metrics["n_false_positive"] == 0
    assert metrics["n_empty_maps"] == 1
    assert metrics["border_mass_share.NORMAL"] == pytest.approx(1 - 64 / 100)
    assert metrics["border_mass_share.PNEUMONIA"] == 0.0
    assert metrics["randomisation_rank_correlation.NORMAL"] == 0.0  # a uniform map ranks nothing
    assert all(np.isfinite(value) for value in metrics.values())


def test_an_empty_sample_gives_counts_and_a_sheet_that_says_so():
    sample = pd.DataFrame(columns=["position", "path", "target", "probability", "outcome"])
    no_maps = np.zeros((0, 8, 8), dtype=np.float32)

    metrics = summarise_explanations(sample, no_maps, no_maps, EXPLAIN_GROUP, CLASSES)

    assert metrics["n_explained"] == 0 and "border_mass_share_mean" not in metrics
    test_set = {"images": np.zeros((0, 8, 8), dtype=np.uint8)}
    assert isinstance(plot_contact_sheet(test_set, sample, no_maps, EXPLAIN_GROUP, NO_NORMALISATION, CLASSES), Figure)
