"""The study of a three-class task (NORMAL, BACTERIA, VIRUS) on hand-made prediction tables whose
figures are computed by hand: the argmax figures over seeds, McNemar on the most probable class and
the bootstrap difference of the macro ROC-AUC, the binary figures of P(pneumonia) beside them."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.study.nodes import plot_comparison, write_comparison_markdown
from pediatric_pneumonia.study.comparison import (
    COMPARISON_COLUMNS,
    MULTICLASS_STUDY_METRICS,
    STUDY_METRICS,
    compare_strategies,
    comparison_columns,
    study_prediction_columns,
)
from pediatric_pneumonia.study.jobs import job_predictions

from .test_nodes import NO_SPREAD, STUDY

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]
# 18 test images of 9 patients (2 images each), 6 per class: patients 0-2 NORMAL, 3-5 BACTERIA, 6-8 VIRUS.
PATIENTS = np.repeat(np.arange(9), 2)
TARGETS = PATIENTS // 3
RANK_IN_CLASS = np.arange(18) % 6


def class_probabilities(wrong: np.ndarray) -> np.ndarray:
    """0.8 for each image's class and 0.1 for the others; an image in ``wrong`` gets its 0.8 on the
    next class instead (NORMAL called BACTERIA, BACTERIA called VIRUS, VIRUS called NORMAL)."""
    called = np.where(wrong, (TARGETS + 1) % 3, TARGETS)
    probabilities = np.full((len(TARGETS), 3), 0.1)
    probabilities[np.arange(len(TARGETS)), called] = 0.8
    return probabilities


def three_class_study_predictions() -> pd.DataFrame:
    """baseline, copy (baseline's predictions) and better, 3 seeds each, on the 18 images.

    baseline calls the first three images of each class the next class, on every seed: argmax
    accuracy 9/18; each class's one-vs-rest ROC-AUC (6 positives, 12 negatives) counts 3 x 9 wins
    and 3 x 3 + 3 x 9 ties, (27 + 36 / 2) / 72 = 0.625. better is right on every image but, on its
    third seed, the first of each class: accuracy (18 + 18 + 15) / 54 = 17/18, ROC-AUC per class
    1, 1 and (5 x 11 + 16 / 2) / 72 = 0.875, macro over seeds 23/24; its majority over seeds is right
    on every image, so McNemar has b = 0 and c = 9.
    """
    frames = []
    for seed in range(3):
        for strategy, wrong in (
            ("baseline", RANK_IN_CLASS < 3),
            ("copy", RANK_IN_CLASS < 3),
            ("better", (RANK_IN_CLASS == 0) & (seed == 2)),
        ):
            probabilities = class_probabilities(wrong)
            frame = pd.DataFrame({
                "strategy": strategy, "seed": seed, "path": [f"test/image{index:02d}.jpeg" for index in range(18)],
                "patient_id": [f"person{patient}" for patient in PATIENTS], "target": TARGETS,
                "probability": 1 - probabilities[:, 0], "threshold": 0.5 + 0.01 * seed,
            })
            frames.append(frame.assign(**{f"probability_{name}": probabilities[:, index] for index, name in enumerate(CLASSES)}))
    return pd.concat(frames, ignore_index=True)[study_prediction_columns(CLASSES)]


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    return compare_strategies(three_class_study_predictions(), check_parameters("study", STUDY))


def test_a_three_class_table_adds_each_class_probability_and_a_two_class_one_is_as_before():
    assert study_prediction_columns(CLASSES)[-3:] == ["probability_NORMAL", "probability_BACTERIA", "probability_VIRUS"]
    assert study_prediction_columns(["NORMAL", "PNEUMONIA"]) == [
        "strategy", "seed", "path", "patient_id", "target", "probability", "threshold"
    ]


def test_the_three_class_comparison_adds_the_argmax_figures_and_tests_the_macro_roc_auc(comparison: pd.DataFrame):
    assert tuple(comparison.columns) == comparison_columns(multiclass=True) != COMPARISON_COLUMNS
    assert "multiclass_macro_roc_auc_difference" in comparison and "roc_auc_difference" not in comparison
    assert comparison["strategy"].tolist() == ["baseline", "copy", "better"]
    assert (comparison[["n_seeds", "n_images", "n_patients"]].to_numpy() == [3, 18, 9]).all()


def test_the_argmax_figures_are_their_seed_means(comparison: pd.DataFrame):
    rows = comparison.set_index("strategy")
    assert rows.loc["baseline", "multiclass_accuracy_mean"] == pytest.approx(0.5)
    assert rows.loc["baseline", "multiclass_accuracy_std"] == pytest.approx(0)
    assert rows.loc["baseline", "multiclass_macro_roc_auc_mean"] == pytest.approx(0.625)
    assert rows.loc["better", "multiclass_accuracy_mean"] == pytest.approx(17 / 18)
    assert rows.loc["better", "multiclass_accuracy_std"] == pytest.approx(np.std([1, 1, 15 / 18], ddof=1))
    assert rows.loc["better", "multiclass_macro_roc_auc_mean"] == pytest.approx(23 / 24)
    for metric in MULTICLASS_STUDY_METRICS:
        assert (comparison[f"{metric}_ci_low"] <= comparison[f"{metric}_mean"] + 1e-9).all(), metric
        assert (comparison[f"{metric}_mean"] <= comparison[f"{metric}_ci_high"] + 1e-9).all(), metric


def test_the_binary_figures_are_those_of_p_pneumonia(comparison: pd.DataFrame):
    # baseline's wrong NORMAL images are called BACTERIA (false positives), its wrong VIRUS images
    # NORMAL (false negatives), its wrong BACTERIA images VIRUS (still pneumonia: right).
    baseline = comparison.set_index("strategy").loc["baseline"]
    assert baseline["accuracy_mean"] == pytest.approx(12 / 18)
    assert baseline["sensitivity_mean"] == pytest.approx(9 / 12)
    assert baseline["specificity_mean"] == pytest.approx(3 / 6)


def test_a_strictly_better_strategy_is_significant_on_its_most_probable_class(comparison: pd.DataFrame):
    better = comparison.set_index("strategy").loc["better"]
    assert (better["mcnemar_b"], better["mcnemar_c"]) == (0, 9)
    assert better["mcnemar_p"] == pytest.approx(2 / 2**9)
    assert better["mcnemar_p_holm"] == pytest.approx(2 * 2 / 2**9)  # two comparisons, copy's p is 1
    assert better["mcnemar_significant"] == True  # noqa: E712 (numpy or Python bool)
    assert better["multiclass_macro_roc_auc_difference"] == pytest.approx(23 / 24 - 0.625)
    assert 0 < better["multiclass_macro_roc_auc_difference_ci_low"] <= better["multiclass_macro_roc_auc_difference_ci_high"]
    assert better["multiclass_macro_roc_auc_difference_significant"] == True  # noqa: E712


def test_an_identical_copy_of_the_reference_is_not_significant(comparison: pd.DataFrame):
    copy = comparison.set_index("strategy").loc["copy"]
    assert (copy["mcnemar_b"], copy["mcnemar_c"], copy["mcnemar_p"]) == (0, 0, 1.0)
    assert copy["multiclass_macro_roc_auc_difference"] == 0 and copy["multiclass_macro_roc_auc_difference_p"] == 1.0
    assert copy["mcnemar_significant"] == False  # noqa: E712


def test_the_markdown_names_the_macro_roc_auc_and_the_most_probable_class(comparison: pd.DataFrame, tmp_path):
    markdown = write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY))

    assert "| strategy | " + " | ".join(MULTICLASS_STUDY_METRICS + STUDY_METRICS) + " |" in markdown
    assert "difference in seed-mean macro ROC-AUC" in markdown and "correctness of its most probable class" in markdown
    assert "P(pneumonia) = 1 - P(NORMAL)" in markdown
    sentences = [line for line in markdown.splitlines() if line.startswith("- ")]
    assert sentences[0].startswith("- copy vs baseline: macro ROC-AUC +0.000 [+0.000, +0.000], Holm p = 1")
    assert sentences[1].startswith("- better vs baseline: macro ROC-AUC +0.333 [")
    assert "McNemar b = 0, c = 9" in sentences[1]
    assert sentences[1].endswith("evidence of a higher macro ROC-AUC and more correct calls.")
    comparison.to_csv(tmp_path / "comparison.csv", index=False)
    assert write_comparison_markdown(pd.read_csv(tmp_path / "comparison.csv"), NO_SPREAD, check_parameters("study", STUDY)) == markdown


def test_the_plot_has_a_panel_per_argmax_and_binary_figure(comparison: pd.DataFrame):
    figure = plot_comparison(comparison)

    assert isinstance(figure, Figure)
    assert [axes.get_title() for axes in figure.axes] == list(MULTICLASS_STUDY_METRICS + STUDY_METRICS)
    assert "most probable class" in figure.get_suptitle()


def test_a_three_class_table_lacking_a_class_is_refused_with_what_is_wrong():
    predictions = three_class_study_predictions()
    without_virus = predictions[predictions["target"] != 2]
    with pytest.raises(ValueError, match=r"the targets \[0, 1\]: a K-class study needs .* every class index from 0 to 2"):
        compare_strategies(without_virus, check_parameters("study", STUDY))


class ArtifactStore:
    """What a finished job's MLflow run holds under ``<strategy>/predictions``: its test predictions
    and decision threshold (``download_artifacts`` copies them into the folder it is given)."""

    def __init__(self, test_predictions: pd.DataFrame, threshold: float) -> None:
        self.test_predictions, self.threshold = test_predictions, threshold

    def download_artifacts(self, run_id: str, path: str, folder: str) -> str:
        local = Path(folder) / path
        local.mkdir(parents=True)
        self.test_predictions.to_csv(local / "test_predictions.csv", index=False)
        (local / "decision_threshold.json").write_text(json.dumps({"threshold": self.threshold}))
        return str(local)


def test_a_three_class_job_gives_p_pneumonia_and_each_class_probability():
    probabilities = class_probabilities(RANK_IN_CLASS < 3)
    test_predictions = pd.DataFrame({
        "path": [f"test/image{index:02d}.jpeg" for index in range(18)], "patient_id": PATIENTS,
        "label": np.asarray(CLASSES)[TARGETS], "target": TARGETS,
        **{f"raw_probability_{name}": probabilities[:, index] for index, name in enumerate(CLASSES)},
        **{f"probability_{name}": probabilities[:, index] for index, name in enumerate(CLASSES)},
    })
    result = {"strategy": "oversample", "model": "oversample", "seed": 43, "run_id": "run"}

    rows = job_predictions(ArtifactStore(test_predictions, 0.4), result, CLASSES)

    assert rows.columns.tolist() == study_prediction_columns(CLASSES)
    assert rows["probability"].to_numpy() == pytest.approx(1 - probabilities[:, 0])
    assert rows["probability_VIRUS"].to_numpy() == pytest.approx(probabilities[:, 2])
    assert (rows["target"] == TARGETS).all() and set(rows["threshold"]) == {0.4} and set(rows["seed"]) == {43}
