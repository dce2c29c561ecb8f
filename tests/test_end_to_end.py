"""The real pipelines through a real KedroSession, MLflow SQLite store and files on disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.datasets import NpzDataset
from tests.conftest import (
    TEST_PARAMETERS,
    TINY_COUNTS,
    create_project,
    latest_version,
    make_raw_dataset,
    plant_bad_files,
    run_pipelines,
)

KEDRO = str(Path(sys.executable).parent / "kedro")
STRATEGIES = ("baseline", "augmentation")
PLOTS = ("confusion_matrix.png", "roc_curve.png", "training_curves.png")
METRIC_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "sensitivity", "specificity", "threshold")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """Run ``baseline`` and ``augmentation`` once on tiny images with planted junk files."""
    base = tmp_path_factory.mktemp("e2e")
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    planted = plant_bad_files(raw / "train" / "NORMAL")
    project = create_project(base / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, list(STRATEGIES))
        yield project, planted


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_metrics_file_has_the_flat_keys_and_counts(finished_run, strategy):
    project, _ = finished_run
    metrics = json.loads(latest_version(project / f"data/08_reporting/{strategy}/test_metrics.json").read_text())

    for key in METRIC_KEYS:
        assert 0.0 <= metrics[key] <= 1.0, key
    test_images = sum(TINY_COUNTS["test"].values())
    assert metrics["n_images"] == test_images
    assert np.sum(metrics["confusion_matrix"]) == test_images
    assert metrics["class_counts"] == TINY_COUNTS["test"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_plots_and_model_are_versioned_files(finished_run, strategy):
    project, _ = finished_run
    for plot in PLOTS:
        assert latest_version(project / f"data/08_reporting/{strategy}/{plot}").read_bytes().startswith(b"\x89PNG")
    model = keras.saving.load_model(latest_version(project / f"data/06_models/{strategy}/classifier.keras"))
    assert model.input_shape == (None, 32, 32, 1)


def test_rejected_files_report_names_each_planted_file(finished_run):
    project, planted = finished_run
    rejected = pd.read_csv(project / "data/08_reporting/rejected_files.csv")
    assert sorted(rejected["path"].str.rsplit("/", n=1).str[-1]) == sorted(planted)


def test_augmentation_balances_only_the_training_set(finished_run):
    project, _ = finished_run
    balanced = NpzDataset(filepath=str(project / "data/05_model_input/augmentation/balanced_train_set.npz")).load()
    unbalanced = NpzDataset(filepath=str(project / "data/05_model_input/baseline/balanced_train_set.npz")).load()
    assert len(set(np.bincount(balanced["labels"]))) == 1
    assert len(set(np.bincount(unbalanced["labels"]))) == 2
    validation = NpzDataset(filepath=str(project / "data/05_model_input/validation_set.npz")).load()
    assert not any(path.startswith("augmented:") for path in validation["paths"])


def test_mlflow_run_holds_params_metrics_curves_plots_and_models(finished_run):
    project, _ = finished_run
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["training.epochs"] == "1"
    assert run.data.params["augmentation.balancing.strategy"] == "augmentation"
    for strategy in STRATEGIES:
        assert 0.0 <= run.data.metrics[f"{strategy}.accuracy"] <= 1.0
        assert f"{strategy}.roc_auc" in run.data.metrics
        assert len(client.get_metric_history(run.info.run_id, f"{strategy}.val_loss")) == 1
        plots = {item.path for item in client.list_artifacts(run.info.run_id, f"{strategy}/plots")}
        assert plots == {f"{strategy}/plots/{plot}" for plot in PLOTS}
        models = {item.path for item in client.list_artifacts(run.info.run_id, f"{strategy}/model")}
        assert models == {f"{strategy}/model/classifier.keras"}


def kedro_run(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``kedro run --env test`` in ``project`` through the command line users type."""
    return subprocess.run(
        [KEDRO, "run", "--env", "test", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )


def mlflow_runs(project: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])


def test_a_bad_parameter_stops_the_run_before_any_node(finished_run):
    project, _ = finished_run
    models = project / "data/06_models/baseline/classifier.keras"
    versions_before = sorted(models.iterdir())
    runs_before = len(mlflow_runs(project))

    failed = kedro_run(project, "--pipeline", "baseline", "--params", "threshold.method=nonsense")

    assert failed.returncode != 0
    assert "Unknown threshold method 'nonsense'" in failed.stdout + failed.stderr
    assert sorted(models.iterdir()) == versions_before
    assert len(mlflow_runs(project)) == runs_before


def test_a_run_failing_after_training_keeps_the_last_good_report(finished_run):
    """The test set is corrupted on disk: the run trains, then fails when the report reads it.

    It goes through the ``kedro`` command line, with the deprecated ``--pipeline`` spelling
    that users still type.
    """
    project, _ = finished_run
    reports = project / "data/08_reporting/baseline/test_metrics.json"
    good = latest_version(reports)
    good_text = good.read_text()
    test_set = project / "data/05_model_input/test_set.npz"
    intact = test_set.read_bytes()
    test_set.write_bytes(b"not an npz file")
    try:
        failed = kedro_run(project, "--pipeline", "baseline", "--from-nodes", "baseline.train_classifier_node")
    finally:
        test_set.write_bytes(intact)

    assert failed.returncode != 0
    assert "test_set.npz" in failed.stdout + failed.stderr
    assert latest_version(reports) == good
    assert good.read_text() == good_text
    runs = mlflow_runs(project)
    assert [run.info.status for run in runs][:2] == ["FAILED", "FINISHED"]
    assert runs[0].info.run_name == "baseline"
