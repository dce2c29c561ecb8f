"""The subtype task end to end: every strategy and the synthesis report on three classes (NORMAL, BACTERIA, VIRUS read from the public file names) through the real pipeline,
its outputs, MLflow experiment and registered models apart from the binary task's, a DCGAN per
smaller class, and its package predicting three classes; the study of two of its strategies over
seeds."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.datasets import NpzDataset
from pediatric_pneumonia.inference import load_predictor
from tests.conftest import REPO_ROOT, TEST_PARAMETERS, create_project, latest_version, make_raw_dataset, run_pipelines

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]
STRATEGIES = ("baseline", "augmentation", "gan", "combined", "class_weight", "oversample")


def subtype_project(base: Path, parameters: dict) -> Path:
    """A project on tiny images with conf/subtype merged into the test environment, and ``parameters``."""
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    subtype = yaml.safe_load((REPO_ROOT / "conf/subtype/parameters.yml").read_text())
    project = create_project(
        base / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw), **subtype["raw_data"]}, **parameters}
    )
    (project / "conf/test/globals.yml").write_text((REPO_ROOT / "conf/subtype/globals.yml").read_text())
    tracking = yaml.safe_load((project / "conf/test/mlflow.yml").read_text())
    tracking |= yaml.safe_load((REPO_ROOT / "conf/subtype/mlflow.yml").read_text())
    (project / "conf/test/mlflow.yml").write_text(yaml.safe_dump(tracking))
    return project


@pytest.fixture(scope="module")
def subtype_run(tmp_path_factory):
    """``kedro run --env subtype --pipeline <strategy>`` for every strategy, then
    ``synthesis_report``, on tiny images (combined grows every class to the largest only: the tiny
    classes are too close for the default scale)."""
    project = subtype_project(tmp_path_factory.mktemp("subtype"), {"combined": {"balancing": {"target_scale": 1.0}}})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, list(STRATEGIES))
        run_pipelines(project, ["synthesis_report"])
        yield project


@pytest.fixture(scope="module")
def subtype_study(tmp_path_factory):
    """``kedro run --env subtype --pipeline study`` on tiny images: baseline and oversample over two
    seeds, one job after another."""
    study = {"strategies": ["baseline", "oversample"], "seeds": 2, "bootstrap_resamples": 50, "backend": "sequential"}
    project = subtype_project(tmp_path_factory.mktemp("subtype_study"), {"study": study})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, ["study"])
        yield project


@pytest.mark.slow
def test_the_subtype_task_writes_its_own_outputs_run_and_registered_model(subtype_run):
    project = subtype_run
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}", registry_uri=f"sqlite:///{project / 'mlflow.db'}")

    assert not (project / "data/06_models/baseline").exists()
    assert latest_version(project / "data/subtype/06_models/baseline/predictor").is_dir()
    assert client.get_experiment_by_name("pediatric_pneumonia_subtype") is not None
    assert sorted(model.name for model in client.search_registered_models()) == sorted(
        f"pediatric_pneumonia_subtype_{strategy}" for strategy in STRATEGIES
    )


@pytest.mark.slow
def test_the_subtype_report_holds_the_three_class_and_the_binary_figures(subtype_run):
    report = json.loads(latest_version(subtype_run / "data/subtype/08_reporting/baseline/test_metrics.json").read_text())

    assert set(report["class_counts"]) == set(CLASSES)
    assert len(report["multiclass_confusion_matrix"]) == 3
    assert sum(map(sum, report["multiclass_confusion_matrix"])) == report["n_images"]
    for key in ("multiclass_accuracy", "multiclass_macro_roc_auc", "bacteria_vs_virus_roc_auc", "recall_VIRUS", "roc_auc", "sensitivity"):
        assert 0.0 <= report[key] <= 1.0, key


@pytest.mark.slow
def test_the_subtype_package_predicts_three_classes(subtype_run):
    package = latest_version(subtype_run / "data/subtype/06_models/baseline/predictor")
    predictor = load_predictor(package)
    image = next((subtype_run.parent / "raw/chest_xray/test/PNEUMONIA").glob("*.jpeg"))

    prediction = predictor.predict(image)

    assert predictor.classes == CLASSES and prediction.label in CLASSES
    assert set(prediction.probabilities) == set(CLASSES) and sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.probability == pytest.approx(1 - prediction.probabilities["NORMAL"], abs=1e-6)


@pytest.mark.slow
def test_gan_tops_up_each_smaller_class_with_its_own_dcgan_images(subtype_run):
    data = subtype_run / "data/subtype"
    counts = np.bincount(NpzDataset(filepath=str(data / "04_feature/train_set.npz")).load()["labels"], minlength=3)
    balanced = NpzDataset(filepath=str(data / "05_model_input/gan/balanced_train_set.npz")).load()
    synthetic = NpzDataset(filepath=str(data / "04_feature/synthetic_set.npz")).load()
    smaller = [label for label in range(3) if counts[label] < counts.max()]

    generators = sorted(path.name for path in latest_version(data / "06_models/image_generators").iterdir())
    assert generators == sorted(f"{CLASSES[label]}.keras" for label in smaller)
    assert np.bincount(synthetic["labels"], minlength=3).tolist() == [counts.max() - count if label in smaller else 0 for label, count in enumerate(counts)]
    assert np.bincount(balanced["labels"]).tolist() == [counts.max()] * 3
    for label in range(3):
        paths = balanced["paths"][balanced["labels"] == label]
        assert any(path.startswith("synthetic:") for path in paths) == (label in smaller), CLASSES[label]
    report = json.loads(latest_version(data / "08_reporting/synthesis/synthesis_report.json").read_text())
    assert list(report["classes"]) == [CLASSES[label] for label in smaller]


@pytest.mark.slow
def test_every_strategy_balances_all_three_classes(subtype_run):
    data = subtype_run / "data/subtype"
    counts = np.bincount(NpzDataset(filepath=str(data / "04_feature/train_set.npz")).load()["labels"], minlength=3)
    balanced = {
        strategy: NpzDataset(filepath=str(data / f"05_model_input/{strategy}/balanced_train_set.npz")).load()
        for strategy in STRATEGIES
    }

    for strategy in ("baseline", "class_weight"):
        assert np.bincount(balanced[strategy]["labels"]).tolist() == counts.tolist(), strategy
    weights = balanced["class_weight"]["weights"]
    assert weights.mean() == pytest.approx(1.0) and len(set(np.round(weights, 5))) == 3  # one weight per class
    for strategy in ("augmentation", "oversample", "gan", "combined"):
        assert np.bincount(balanced[strategy]["labels"]).tolist() == [counts.max()] * 3, strategy
    combined = balanced["combined"]
    for label in range(3):
        added = combined["paths"][combined["labels"] == label][counts[label] :]
        expected = round(0.5 * (counts.max() - counts[label]))  # synthetic_share of the gap
        assert sum(path.startswith("synthetic:") for path in added) == expected, CLASSES[label]


@pytest.mark.slow
def test_the_subtype_study_compares_the_three_class_models_over_seeds(subtype_study):
    reports = subtype_study / "data/subtype/08_reporting/study"
    predictions = pd.read_csv(latest_version(subtype_study / "data/subtype/07_model_output/study/study_predictions.csv"))
    comparison = pd.read_csv(latest_version(reports / "comparison.csv"))

    assert predictions.columns.tolist()[-3:] == [f"probability_{name}" for name in CLASSES]
    assert set(predictions["target"]) == {0, 1, 2}
    assert predictions["probability"].to_numpy() == pytest.approx(1 - predictions["probability_NORMAL"].to_numpy())
    assert comparison["strategy"].tolist() == ["baseline", "oversample"] and comparison["n_seeds"].tolist() == [2, 2]
    assert 0.0 <= comparison.loc[0, "multiclass_accuracy_mean"] <= 1.0
    assert 0.0 <= comparison.loc[1, "multiclass_macro_roc_auc_difference_p_holm"] <= 1.0
    assert 0.0 <= comparison.loc[1, "mcnemar_p_holm"] <= 1.0
    assert "seed-mean macro ROC-AUC" in latest_version(reports / "comparison.md").read_text()
