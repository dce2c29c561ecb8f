"""The subtype task end to end: the baseline strategy on three classes (NORMAL, BACTERIA, VIRUS read
from the public file names) through the real pipeline, its outputs, MLflow experiment and registered
model apart from the binary task's, and its package predicting three classes; the study of two of
its strategies over seeds."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.inference import load_predictor
from tests.conftest import REPO_ROOT, TEST_PARAMETERS, create_project, latest_version, make_raw_dataset, run_pipelines

CLASSES = ["NORMAL", "BACTERIA", "VIRUS"]


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
    """``kedro run --env subtype --pipeline baseline`` on tiny images."""
    project = subtype_project(tmp_path_factory.mktemp("subtype"), {})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, ["baseline"])
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
    assert [model.name for model in client.search_registered_models()] == ["pediatric_pneumonia_subtype_baseline"]


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
