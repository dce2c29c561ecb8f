import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pediatric_pneumonia.parameters import check_parameters, check_study_gan_profiles
from pediatric_pneumonia.pipelines.study.nodes import plot_comparison, write_comparison_markdown
from pediatric_pneumonia.ray_cluster import check_ray_backend
from pediatric_pneumonia.study.comparison import (
    COMPARISON_COLUMNS,
    STUDY_METRICS,
    STUDY_PREDICTION_COLUMNS,
    compare_strategies,
)
from pediatric_pneumonia.study.spread import SEED_SPREAD_COLUMNS, seed_spread, spread_figures

STRATEGIES = ("baseline", "augmentation", "gan", "combined")
NO_SPREAD = pd.DataFrame(columns=list(SEED_SPREAD_COLUMNS))
STUDY = {
    "seeds": 3,
    "reference_strategy": "baseline",
    "strategies": None,
    "gan_profiles": None,
    "retrain_gan_per_seed": False,
    "bootstrap_resamples": 200,
    "bootstrap_seed": 7,
    "confidence_level": 0.95,
    "significance_level": 0.05,
    "backend": "sequential",
    "cpus_per_job": 1,
    "ray_connect_timeout_s": 5,
    "workspace": "data/09_study",
}


def synthetic_study_predictions(seeds: int = 3) -> pd.DataFrame:
    """3 strategies x ``seeds`` seeds x 60 test images of 30 patients (2 images each).

    ``baseline`` is noisy, ``copy`` repeats baseline's predictions exactly and ``combined`` is
    clearly better; each model's threshold differs a little with its seed.
    """
    patients = np.repeat(np.arange(30), 2)
    targets = (patients % 3 != 0).astype(int)  # 10 NORMAL and 20 PNEUMONIA patients
    paths = [f"test/{'PNEUMONIA' if target else 'NORMAL'}/person{patient}_{index}.jpeg" for index, (patient, target) in enumerate(zip(patients, targets))]
    frames = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        baseline = np.clip(0.5 + 0.2 * (targets - 0.5) + rng.normal(0, 0.25, targets.size), 0, 1)
        combined = np.clip(0.5 + 0.6 * (targets - 0.5) + rng.normal(0, 0.15, targets.size), 0, 1)
        for strategy, probabilities in (("baseline", baseline), ("copy", baseline), ("combined", combined)):
            frames.append(pd.DataFrame({
                "strategy": strategy, "seed": seed, "path": paths, "patient_id": [f"person{p}" for p in patients],
                "target": targets, "probability": probabilities, "threshold": 0.5 + 0.01 * seed,
            }))
    return pd.concat(frames, ignore_index=True)[list(STUDY_PREDICTION_COLUMNS)]


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    return compare_strategies(synthetic_study_predictions(), check_parameters("study", STUDY))


def test_the_table_has_every_column_and_the_reference_first(comparison: pd.DataFrame):
    assert tuple(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["strategy"].tolist() == ["baseline", "copy", "combined"]
    assert (comparison[["n_seeds", "n_images", "n_patients"]].to_numpy() == [3, 60, 30]).all()
    reference = comparison.iloc[0]
    assert reference[["roc_auc_difference", "mcnemar_p", "mcnemar_p_holm"]].isna().all()


def test_metrics_are_the_seed_means_inside_their_patient_intervals(comparison: pd.DataFrame):
    for metric in STUDY_METRICS:
        assert (comparison[f"{metric}_ci_low"] <= comparison[f"{metric}_mean"] + 1e-9).all(), metric
        assert (comparison[f"{metric}_mean"] <= comparison[f"{metric}_ci_high"] + 1e-9).all(), metric
        assert (comparison[f"{metric}_std"] >= 0).all(), metric
    assert (comparison["recall_mean"] == comparison["sensitivity_mean"]).all()
    combined = comparison.set_index("strategy").loc["combined"]
    assert combined["roc_auc_mean"] > 0.9 and combined["accuracy_mean"] > 0.85


def test_the_clearly_better_strategy_is_significant_after_holm(comparison: pd.DataFrame):
    combined = comparison.set_index("strategy").loc["combined"]
    assert combined["roc_auc_difference"] > 0.1 and combined["roc_auc_difference_ci_low"] > 0
    assert combined["roc_auc_difference_significant"] == True  # noqa: E712 (numpy or Python bool)
    assert combined["mcnemar_c"] > combined["mcnemar_b"]
    assert combined["mcnemar_significant"] == True  # noqa: E712


def test_an_identical_copy_of_the_reference_is_not_significant(comparison: pd.DataFrame):
    copy = comparison.set_index("strategy").loc["copy"]
    assert copy["roc_auc_difference"] == 0 and copy["roc_auc_difference_p"] == 1.0
    assert (copy["mcnemar_b"], copy["mcnemar_c"], copy["mcnemar_p"]) == (0, 0, 1.0)
    assert copy["roc_auc_difference_p_holm"] == 1.0 and copy["mcnemar_p_holm"] == 1.0
    assert copy["roc_auc_difference_significant"] == False  # noqa: E712
    assert copy["mcnemar_significant"] == False  # noqa: E712


def test_holm_multiplies_the_smallest_p_by_the_number_of_comparisons(comparison: pd.DataFrame):
    combined = comparison.set_index("strategy").loc["combined"]
    for test in ("roc_auc_difference", "mcnemar"):
        assert combined[f"{test}_p_holm"] == pytest.approx(min(1.0, 2 * combined[f"{test}_p"]))


def test_the_strategies_parameter_narrows_the_comparison():
    comparison = compare_strategies(synthetic_study_predictions(), check_parameters("study", STUDY | {"strategies": ["combined", "baseline"]}))
    assert comparison["strategy"].tolist() == ["baseline", "combined"]
    # With one comparison Holm changes nothing.
    assert (comparison["mcnemar_p_holm"].iloc[1], comparison["roc_auc_difference_p_holm"].iloc[1]) == (
        comparison["mcnemar_p"].iloc[1], comparison["roc_auc_difference_p"].iloc[1]
    )


def test_the_markdown_opens_with_the_protocol_from_the_parameters_and_has_a_sentence_per_comparison(comparison: pd.DataFrame):
    markdown = write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY))
    protocol = markdown.split("\n\n")[1]
    assert protocol.startswith("**Protocol.**")
    assert "validation patients only" in protocol and "read once per model" in protocol
    assert "3 seeds" in protocol and "200 resamples" in protocol and "95%" in protocol
    assert "shared by every seed" in protocol
    assert "| baseline (reference) |" in markdown
    sentences = [line for line in markdown.splitlines() if line.startswith("- ")]
    assert len(sentences) == 2
    assert sentences[0].startswith("- copy vs baseline: ROC-AUC +0.000 [+0.000, +0.000], Holm p = 1")
    assert sentences[0].endswith(": no evidence of a difference.")
    assert sentences[1].startswith("- combined vs baseline: ROC-AUC +0.")
    assert "evidence of a higher ROC-AUC and more correct calls" in sentences[1]
    retrained = write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY | {"seeds": 5, "retrain_gan_per_seed": True}))
    assert "5 seeds" in retrained and "the GAN that makes them" in retrained


def test_the_markdown_reads_the_table_back_from_csv(comparison: pd.DataFrame, tmp_path):
    comparison.to_csv(tmp_path / "comparison.csv", index=False)
    assert write_comparison_markdown(pd.read_csv(tmp_path / "comparison.csv"), NO_SPREAD, check_parameters("study", STUDY)) == write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY))


def test_the_plot_has_a_panel_per_metric(comparison: pd.DataFrame):
    figure = plot_comparison(comparison)
    assert isinstance(figure, Figure)
    assert [axes.get_title() for axes in figure.axes] == list(STUDY_METRICS)


def test_one_seed_gives_no_standard_deviation_but_still_an_interval():
    comparison = compare_strategies(synthetic_study_predictions(seeds=1), check_parameters("study", STUDY | {"bootstrap_resamples": 50}))
    assert comparison["accuracy_std"].isna().all() and comparison["accuracy_ci_low"].notna().all()
    assert "n/a" not in write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY | {"seeds": 1}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda table: table.drop(columns="threshold"), "lacks the columns \\['threshold'\\]"),
        (lambda table: table[table["strategy"] != "baseline"], "no predictions of the reference 'baseline'"),
        (lambda table: table.drop(index=5), "score each of the 60 test images once"),
        (lambda table: table.assign(threshold=np.arange(len(table)) / len(table)), "several thresholds"),
    ],
)
def test_a_table_that_cannot_be_compared_is_refused_with_what_is_wrong(change, message):
    with pytest.raises(ValueError, match=message):
        compare_strategies(change(synthetic_study_predictions()), check_parameters("study", STUDY))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": 0}, "study.seeds must be a positive integer, got 0"),
        ({"seeds": -2}, "study.seeds"),
        ({"reference_strategy": "basline"}, "Unknown study.reference_strategy 'basline': use one of"),
        ({"strategies": ["gan", "smote"]}, "Unknown study.strategies.1 'smote'"),
        ({"strategies": ["gan", "combined"]}, "leaves out the reference 'baseline'"),
        ({"confidence_level": 95}, r"study.confidence_level must be in \(0, 1\), got 95"),
        ({"confidence_level": 0}, "study.confidence_level"),
        ({"significance_level": 1.0}, "study.significance_level"),
        ({"bootstrap_resamples": 0}, "study.bootstrap_resamples"),
        ({"backend": "dask"}, r"Unknown study.backend 'dask': use one of \('sequential', 'ray'\)"),
        ({"cpus_per_job": 0}, "study.cpus_per_job must be a positive number"),
        ({"workspace": ""}, "study.workspace must be the folder of the jobs' workspaces"),
        ({"retrain_gan_per_seed": "yes"}, "study.retrain_gan_per_seed must be true or false"),
        ({"ray_connect_timeout_s": 0}, "study.ray_connect_timeout_s must be a positive number"),
    ],
)
def test_study_parameters_that_cannot_work_are_refused_with_a_fix(change, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("study", STUDY | change)


def test_the_default_study_parameters_pass():
    check_parameters("study", STUDY | {"strategies": ["baseline", "gan"]})
    check_parameters("study", STUDY)


@pytest.mark.parametrize(
    ("gan_profiles", "message"),
    [
        ([], "study.gan_profiles is empty: it must be a list of distinct GAN profiles"),
        (["cpu", "cpu"], "distinct GAN profiles"),
        ("cpu", "study.gan_profiles must be a list of distinct GAN profiles .* or null, got 'cpu'"),
        (["cpu", "gpu_huge"], "unknown GAN profiles \\['gpu_huge'\\]. Use some of \\['cpu', 'cpu_stable', 'paper'\\]"),
    ],
)
def test_gan_profiles_that_cannot_work_are_refused_with_a_fix(gan_profiles, message):
    with pytest.raises(ValueError, match=message):
        study = check_parameters("study", STUDY | {"gan_profiles": gan_profiles})
        check_study_gan_profiles(study, ["cpu", "cpu_stable", "paper"])


def test_a_synthetic_image_reference_cannot_be_split_by_gan_profile():
    with pytest.raises(ValueError, match="study.reference_strategy 'gan' uses synthetic images"):
        check_parameters("study", STUDY | {"gan_profiles": ["cpu"], "reference_strategy": "gan"})
    check_parameters("study", STUDY | {"gan_profiles": ["cpu"]})
    check_parameters("study", STUDY | {"gan_profiles": None, "reference_strategy": "gan"})


def test_models_of_one_strategy_with_several_gan_profiles_are_compared_side_by_side():
    predictions = synthetic_study_predictions()
    predictions["strategy"] = predictions["strategy"].replace({"copy": "combined@cpu", "combined": "combined@cpu_stable"})

    comparison = compare_strategies(predictions, check_parameters("study", STUDY | {"strategies": ["baseline", "combined"]}))
    markdown = write_comparison_markdown(comparison, NO_SPREAD, check_parameters("study", STUDY | {"gan_profiles": ["cpu", "cpu_stable"]}))

    assert comparison["strategy"].tolist() == ["baseline", "combined@cpu", "combined@cpu_stable"]
    assert "GAN profiles cpu, cpu_stable (named strategy@profile)" in markdown
    assert "- combined@cpu_stable vs baseline:" in markdown


def test_a_ray_address_that_does_not_answer_stops_the_study_before_anything_trains(monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # the discard port: nothing listens there

    with pytest.raises(ConnectionError, match="RAY_ADDRESS is '127.0.0.1:9' but no Ray cluster answers"):
        check_ray_backend("study.backend", 1)



def synthetic_study_figures() -> pd.DataFrame:
    """Two models x three seeds of seed-spread figures, with known values."""
    rows = []
    for strategy, specificities in (("baseline", [0.90, 0.94, 0.98]), ("combined", [0.93, 0.94, 0.95])):
        for seed, specificity in enumerate(specificities):
            rows.append({"strategy": strategy, "seed": seed, "figure": "stress.validation.specificity_mean", "value": specificity})
            rows.append({"strategy": strategy, "seed": seed, "figure": "validation.sensitivity", "value": 0.95})
    return pd.DataFrame(rows)


def test_the_seed_spread_of_each_figure_is_its_mean_sd_and_range_over_seeds():
    spread = seed_spread(synthetic_study_figures()).set_index(["strategy", "figure"])

    baseline = spread.loc[("baseline", "stress.validation.specificity_mean")]
    assert tuple(spread.reset_index().columns) == SEED_SPREAD_COLUMNS
    assert baseline["n_seeds"] == 3 and baseline["mean"] == pytest.approx(0.94)
    assert baseline["std"] == pytest.approx(0.04) and baseline["range"] == pytest.approx(0.08)
    assert spread.loc[("combined", "stress.validation.specificity_mean"), "range"] == pytest.approx(0.02)
    assert spread.loc[("combined", "validation.sensitivity"), "std"] == pytest.approx(0, abs=1e-12)
    one_seed = seed_spread(synthetic_study_figures().query("seed == 0")).set_index(["strategy", "figure"])
    assert np.isnan(one_seed.loc[("baseline", "validation.sensitivity"), "std"])


def test_only_figures_that_read_no_test_image_enter_the_spread():
    metrics = {
        "baseline.validation.specificity": 0.97,
        "baseline.validation.loss": 0.2,
        "baseline.operating_point.threshold": 0.6,
        "baseline.stress.validation.roc_auc_mean": 0.99,
        "baseline.stress.test.roc_auc_mean": 0.9,
        "baseline.shortcuts.validation.sharpness.sensitivity_slope": -0.05,
        "baseline.shortcuts.train.sharpness.roc_auc": 0.82,
        "baseline.test.specificity": 0.8,
        "baseline.test.ece_after": 0.1,
        "gan.validation.specificity": 0.9,
    }

    assert spread_figures(metrics, "baseline") == {
        "validation.specificity": 0.97,
        "operating_point.threshold": 0.6,
        "stress.validation.roc_auc_mean": 0.99,
        "shortcuts.validation.sharpness.sensitivity_slope": -0.05,
    }


def test_the_markdown_report_shows_the_seed_spread_of_the_headline_figures():
    comparison = compare_strategies(synthetic_study_predictions(), check_parameters("study", STUDY))
    markdown = write_comparison_markdown(comparison, seed_spread(synthetic_study_figures()), check_parameters("study", STUDY))

    assert "## Seed spread" in markdown
    assert "| figure | baseline | combined |" in markdown
    assert "| stress.validation.specificity_mean | 0.940 ± 0.040 [0.900, 0.980] | 0.940 ± 0.010 [0.930, 0.950] |" in markdown
