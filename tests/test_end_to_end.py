"""The real pipelines through a real KedroSession, MLflow SQLite store and files on disk."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.validation.exceptions import ParameterValidationError
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.datasets import NpzDataset
from pediatric_pneumonia.strategies import STRATEGIES
from pediatric_pneumonia.tracking import report_metric_name
from tests.conftest import (
    TEST_PARAMETERS,
    TINY_COUNTS,
    create_project,
    latest_version,
    make_raw_dataset,
    plant_bad_files,
    run_pipelines,
)

pytestmark = pytest.mark.slow

KEDRO = str(Path(sys.executable).parent / "kedro")
PLOTS = (
    "confusion_matrix.png",
    "roc_curve.png",
    "training_curves.png",
    "reliability.png",
    "stress.png",
    "shortcut_strata.png",
)
METRIC_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "sensitivity", "specificity", "threshold")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """Run every pipeline (``__default__``) once on tiny images with planted junk files."""
    base = tmp_path_factory.mktemp("e2e")
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    planted = plant_bad_files(raw / "train" / "NORMAL")
    project = create_project(base / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}})
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, ["__default__"])
        yield project, planted


def test_every_metric_names_its_subset_and_the_test_figures_mlflow_shows_are_the_reports(finished_run):
    # MLflow's run table shows each key's latest value: the test report's figures must not share a
    # key with a training curve (the curves' last epoch used to hide the test accuracy).
    project, _ = finished_run
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    metrics = client.search_runs([experiment.experiment_id])[0].data.metrics
    subsets = {"train", "validation", "test", "operating_point", "calibration", "stress", "shortcuts", "explain"}
    for strategy in STRATEGIES:
        report = json.loads(latest_version(project / f"data/08_reporting/{strategy}/test_metrics.json").read_text())
        numbers = {key: value for key, value in report.items() if isinstance(value, int | float) and not isinstance(value, bool)}
        assert metrics[f"{strategy}.test.accuracy"] == pytest.approx(report["accuracy"])
        assert metrics[f"{strategy}.validation.sensitivity"] == pytest.approx(report["validation_sensitivity"])
        assert metrics[f"{strategy}.operating_point.threshold"] == pytest.approx(report["threshold"])
        assert {f"{strategy}.{report_metric_name(key, 'test')}": value for key, value in numbers.items()} == pytest.approx(
            {name: metrics[name] for name in (f"{strategy}.{report_metric_name(key, 'test')}" for key in numbers)}
        )
        own = [name.removeprefix(f"{strategy}.") for name in metrics if name.startswith(f"{strategy}.")]
        assert own and {re.sub(r"^member_\d+\.", "", name).split(".")[0] for name in own} <= subsets, own


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


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_stress_report_and_calibration_are_in_every_report(finished_run, strategy):
    project, _ = finished_run
    reports = project / f"data/08_reporting/{strategy}"
    stress = json.loads(latest_version(reports / "stress_metrics.json").read_text())
    for subset in ("validation", "test"):
        for metric in ("roc_auc", "sensitivity", "specificity"):
            assert stress[f"{subset}.{metric}_worst"] <= stress[f"{subset}.{metric}_mean"] + 1e-9
            assert 0.0 <= stress[f"{subset}.{metric}_clean"] <= 1.0
        assert f"{subset}.brightness.3.specificity" in stress
    table = pd.read_csv(latest_version(reports / "stress_table.csv"))
    assert set(table["shift"]) >= {"brightness", "contrast", "gamma", "blur", "noise", "jpeg", "resolution", "zoom", "rotation"}

    metrics = json.loads(latest_version(reports / "test_metrics.json").read_text())
    calibration = json.loads(latest_version(project / f"data/07_model_output/{strategy}/calibration.json").read_text())
    assert metrics["calibration_method"] == calibration["method"] == "temperature"
    assert calibration["validation_nll_after"] <= calibration["validation_nll_before"] + 1e-9
    for key in ("test_ece_before", "test_ece_after", "test_brier_after", "accuracy_ci_low", "roc_auc_ci_high",
                "validation_sensitivity", "validation_specificity", "patient_accuracy"):
        assert key in metrics, key


def test_rejected_files_report_names_each_planted_file(finished_run):
    project, planted = finished_run
    rejected = pd.read_csv(project / "data/08_reporting/rejected_files.csv")
    assert sorted(rejected["path"].str.rsplit("/", n=1).str[-1]) == sorted(planted)


def load_set(project: Path, relative: str) -> dict:
    return NpzDataset(filepath=str(project / "data" / relative)).load()


def test_strategies_balance_only_the_training_set(finished_run):
    project, _ = finished_run
    train = load_set(project, "04_feature/train_set.npz")
    majority = int(np.bincount(train["labels"]).max())
    unbalanced = load_set(project, "05_model_input/baseline/balanced_train_set.npz")
    assert len(set(np.bincount(unbalanced["labels"]))) == 2
    for strategy in ("augmentation", "gan"):
        balanced = load_set(project, f"05_model_input/{strategy}/balanced_train_set.npz")
        assert np.bincount(balanced["labels"]).tolist() == [majority, majority], strategy
    combined = load_set(project, "05_model_input/combined/balanced_train_set.npz")
    assert np.bincount(combined["labels"]).tolist() == [round(1.29 * majority)] * 2
    assert any(path.startswith("synthetic:") for path in combined["paths"])
    assert any(path.startswith("augmented:") for path in combined["paths"])
    weighted = load_set(project, "05_model_input/class_weight/balanced_train_set.npz")
    np.testing.assert_array_equal(weighted["labels"], train["labels"])
    assert weighted["weights"].mean() == pytest.approx(1.0)
    assert "weights" not in unbalanced
    oversampled = load_set(project, "05_model_input/oversample/balanced_train_set.npz")
    assert np.bincount(oversampled["labels"]).tolist() == [majority, majority]
    added = oversampled["paths"][len(train["labels"]) :]
    assert len(added) and all(path.startswith("oversampled:") for path in added)
    for subset in ("validation_set", "test_set"):
        paths = load_set(project, f"04_feature/{subset}.npz")["paths"]
        assert all(path.startswith("/") for path in paths), subset


def test_synthesis_makes_the_gap_as_pngs_and_a_report(finished_run):
    project, _ = finished_run
    train = load_set(project, "04_feature/train_set.npz")
    counts = np.bincount(train["labels"])
    pngs = sorted((project / "data/04_feature/synthetic_images").glob("*.png"))
    assert len(pngs) == counts[1] - counts[0]
    assert pngs[0].name == "synthetic_normal_00000.png" and pngs[0].read_bytes().startswith(b"\x89PNG")
    generators = sorted((project / "data/06_models/image_generators").glob("*/image_generators/*.keras"))
    assert [generator.name for generator in generators] == ["NORMAL.keras"]

    saved = json.loads(latest_version(project / "data/08_reporting/synthesis/synthesis_report.json").read_text())
    assert saved["gan_profile"] == "cpu" and list(saved["classes"]) == ["NORMAL"]
    report = saved["classes"]["NORMAL"]
    for key in ("kid", "kid_real_vs_real", "fid", "fid_real_vs_real"):
        assert np.isfinite(report[key]), key
    assert report["fid_over_real_vs_real"] == pytest.approx(report["fid"] / report["fid_real_vs_real"])
    for key in ("precision", "recall", "precision_real_vs_real", "recall_real_vs_real", "memorized_share_pixels", "memorized_share_features"):
        assert 0.0 <= report[key] <= 1.0, key
    for plot in ("synthetic_vs_real.png", "closest_pairs.png", "gan_losses.png"):
        assert latest_version(project / f"data/08_reporting/synthesis/{plot}").read_bytes().startswith(b"\x89PNG")


def test_mlflow_run_holds_params_metrics_curves_plots_and_models(finished_run):
    project, _ = finished_run
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["training.epochs"] == "1"
    assert "augmentation.balancing.seed" in run.data.params  # the namespace names the strategy
    for strategy in STRATEGIES:
        assert f"{strategy}.test.ece_after" in run.data.metrics
        assert f"{strategy}.stress.validation.specificity_worst" in run.data.metrics
        assert len(client.get_metric_history(run.info.run_id, f"{strategy}.validation.loss")) == 1
        assert len(client.get_metric_history(run.info.run_id, f"{strategy}.train.accuracy")) == 1
        plots = {item.path for item in client.list_artifacts(run.info.run_id, f"{strategy}/plots")}
        assert plots == {f"{strategy}/plots/{plot}" for plot in PLOTS}
        models = {item.path for item in client.list_artifacts(run.info.run_id, f"{strategy}/model")}
        assert models == {f"{strategy}/model/classifier.keras", f"{strategy}/model/model_card.md"}
        logged_models = mlflow_client_models(client, experiment.experiment_id, run.info.run_id)
        assert f"{strategy}_model" in logged_models
    assert len(client.get_metric_history(run.info.run_id, "synthesis.train.normal.generator_loss")) == 2
    assert "synthesis.normal.kid" in run.data.metrics
    generators = {item.path for item in client.list_artifacts(run.info.run_id, "synthesis/model/image_generators")}
    assert generators == {"synthesis/model/image_generators/NORMAL.keras"}
    synthesis_plots = {item.path for item in client.list_artifacts(run.info.run_id, "synthesis/plots")}
    assert "synthesis/plots/closest_pairs.png" in synthesis_plots


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_packages_registers_and_documents_its_model(finished_run, strategy):
    project, _ = finished_run
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}", registry_uri=f"sqlite:///{project / 'mlflow.db'}")
    package = latest_version(project / f"data/06_models/{strategy}/predictor")
    card = latest_version(project / f"data/06_models/{strategy}/model_card.md").read_text()
    decision = json.loads(latest_version(project / f"data/07_model_output/{strategy}/decision_threshold.json").read_text())

    config = json.loads((package / "predictor.json").read_text())
    best = client.get_model_version_by_alias(f"pediatric_pneumonia_{strategy}", "best")

    assert (package / "classifier.keras").is_file() and (package / config["shift_reference"]["file"]).is_file()
    assert config["shift_reference"]["count"] == len(NpzDataset(filepath=str(package / "reference_features.npz")).load()["features"])
    assert config["decision"]["threshold"] == decision["threshold"]
    assert config["preprocessing"]["image_size"] == TEST_PARAMETERS["preprocessing"]["image_size"]
    assert best.tags["validation_roc_auc"] == f"{decision['validation_roc_auc']:.6f}"
    assert "not a diagnostic device" in card.lower()
    assert f"{decision['threshold']:.3f}" in card


def test_one_file_gets_one_probability_everywhere(finished_run, tmp_path):
    """Pipeline, Predictor, CLI, MLflow model, web app and TFLite export agree on the same test file."""
    import base64

    import mlflow
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from pediatric_pneumonia.cli import cli
    from pediatric_pneumonia.inference import Predictor
    from pediatric_pneumonia.inference.export import export_tflite, tflite_probabilities
    from pediatric_pneumonia.webapp import create_app

    project, _ = finished_run
    report = pd.read_csv(latest_version(project / "data/07_model_output/baseline/test_predictions.csv"))
    row = report.iloc[0]
    content = Path(row["path"]).read_bytes()

    predictor = Predictor.load("baseline", project_path=project)
    from_predictor = predictor.predict(row["path"]).probability
    cli_result = CliRunner().invoke(
        cli, ["predict", row["path"], "--model", "baseline", "--project-path", str(project), "--format", "json"]
    )
    from_cli = json.loads(cli_result.stdout)[0]["probability"]
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model("models:/pediatric_pneumonia_baseline@best")
    from_mlflow = served.predict(pd.DataFrame({"image": [base64.b64encode(content).decode()]}))["probability"][0]
    with TestClient(create_app(predictor), base_url="http://127.0.0.1") as client:
        from_app = client.post("/api/predict", files={"file": ("xray.jpeg", content)}).json()["probability"]
    tflite = export_tflite(predictor, tmp_path / "model.tflite")
    stored = predictor.stored_image(row["path"], row["path"])[np.newaxis]
    from_tflite = predictor.calibrate(tflite_probabilities(tflite, predictor.model_input(stored)))[0]

    for answer in (from_predictor, from_cli, from_mlflow, from_app, from_tflite):
        assert answer == pytest.approx(row["probability"], abs=1e-5)


@pytest.mark.parametrize("strategy", ["baseline", "combined"])
def test_the_report_scores_every_test_file_as_the_served_predictor_does(finished_run, strategy):
    from pediatric_pneumonia.inference import Predictor

    project, _ = finished_run
    report = pd.read_csv(latest_version(project / f"data/07_model_output/{strategy}/test_predictions.csv"))
    predictor = Predictor.load(strategy, project_path=project)

    predictions = predictor.predict_batch(report["path"].tolist())

    assert [prediction.probability for prediction in predictions] == pytest.approx(report["probability"].tolist(), abs=1e-6)
    labels = ["PNEUMONIA" if probability >= predictor.threshold else "NORMAL" for probability in report["probability"]]
    assert [prediction.label for prediction in predictions] == labels
    validation = pd.read_csv(latest_version(project / f"data/07_model_output/{strategy}/validation_predictions.csv"))
    assert len(validation) and validation["raw_probability"].between(0, 1).all()


def test_explain_reruns_the_explanations_of_a_trained_model(finished_run):
    project, _ = finished_run
    metrics_folder = project / "data/08_reporting/baseline/explanations/explanation_metrics.json"
    versions_before = sorted(metrics_folder.iterdir())
    other_strategy = project / "data/08_reporting/gan/explanations/explanation_metrics.json"
    other_before = sorted(other_strategy.iterdir())

    rerun = kedro_run(project, "--pipeline", "explain", "--namespaces", "baseline")

    assert rerun.returncode == 0, rerun.stderr[-3000:]
    metrics = json.loads(latest_version(metrics_folder).read_text())
    overlays = sorted((project / "data/08_reporting/baseline/explanations/overlays").glob("*.png"))
    assert len(sorted(metrics_folder.iterdir())) == len(versions_before) + 1
    assert len(overlays) == metrics["n_explained"] > 0
    assert latest_version(project / "data/08_reporting/baseline/explanations/contact_sheet.png").read_bytes().startswith(b"\x89PNG")
    assert -1.0 <= metrics["randomisation_rank_correlation_mean"] <= 1.0
    assert 0.0 <= metrics["border_mass_share_mean"] <= 1.0
    assert sorted(other_strategy.iterdir()) == other_before
    run = mlflow_runs(project)[0]
    assert "baseline.explain.border_mass_share_mean" in run.data.metrics


def mlflow_client_models(client: MlflowClient, experiment_id: str, run_id: str) -> set[str]:
    """Names of the MLflow models (pyfunc) logged by ``run_id``."""
    return {model.name for model in client.search_logged_models([experiment_id]) if model.source_run_id == run_id}


# Wide enough that rich does not wrap log lines the tests search.
KEDRO_ENVIRONMENT = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "400"}


def kedro_run(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``kedro run --env test`` in ``project`` through the command line users type."""
    return subprocess.run(
        [KEDRO, "run", "--env", "test", *arguments], cwd=project, capture_output=True, text=True, env=KEDRO_ENVIRONMENT
    )


def mlflow_runs(project: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])


@pytest.mark.parametrize(
    ("pipeline", "bad_parameter", "message"),
    [
        ("baseline", "threshold.method=nonsense", "Unknown threshold.method 'nonsense'"),
        ("baseline", "preprocessing.intensity.method=zscore", "Unknown preprocessing.intensity.method 'zscore'"),
        ("baseline", "calibration.method=platt", "Unknown calibration.method 'platt'"),
        ("baseline", "threshold.sensitivity_target=1.5", "sensitivity_target"),
        ("combined", "synthesis.profile=huge", "Unknown GAN profile 'huge'"),
        ("gan", "synthesis.profiles.cpu.image_size=18", "image_size 18 cannot be produced"),
        ("combined", "combined.balancing.synthetic_share=0.9", "Strategy 'combined' would need more synthetic images"),
        ("oversample", "oversample.balancing.seed=1.5", "oversample.balancing.seed must be an integer, got 1.5"),
    ],
)
def test_a_bad_parameter_stops_the_run_before_any_node(finished_run, pipeline, bad_parameter, message):
    """In a KedroSession of this process (as `kedro run --params` builds it), which is as real as
    the command line below and ten times quicker."""
    project, _ = finished_run
    models = project / f"data/06_models/{pipeline}/classifier.keras"
    versions_before = sorted(models.iterdir())
    runs_before = len(mlflow_runs(project))
    name, _, value = bad_parameter.partition("=")
    runtime_params = yaml.safe_load(value)
    for key in reversed(name.split(".")):
        runtime_params = {key: runtime_params}

    # Kedro's validation of the typed groups raises its own error (our message inside); the hook
    # raises a ValueError for what it checks (each strategy's balancing block, rules across groups).
    with pytest.raises((ValueError, ParameterValidationError), match=re.escape(message)):
        run_pipelines(project, [pipeline], runtime_params=runtime_params)

    assert sorted(models.iterdir()) == versions_before
    assert len(mlflow_runs(project)) == runs_before


def test_a_bad_parameter_on_the_command_line_stops_before_any_node(finished_run):
    project, _ = finished_run
    runs_before = len(mlflow_runs(project))

    failed = kedro_run(project, "--pipeline", "baseline", "--params", "threshold.method=nonsense")

    assert failed.returncode != 0
    assert "Unknown threshold.method 'nonsense'" in failed.stdout + failed.stderr
    assert "Running node" not in failed.stdout + failed.stderr
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
    test_set = project / "data/04_feature/test_set.npz"
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


def test_killed_gan_training_resumes_from_its_last_checkpoint(finished_run):
    project, _ = finished_run
    checkpoint = project / "data/06_models/gan_checkpoint_resume"
    settings = ["--params", f"synthesis.checkpoint_dir={checkpoint},synthesis.profiles.cpu.iterations=100000"]
    command = [KEDRO, "run", "--env", "test", "--pipeline", "synthesis", *settings]
    training = subprocess.Popen(command, cwd=project, env=KEDRO_ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = checkpoint / "cpu" / "NORMAL" / "state.json"
    try:
        deadline = time.monotonic() + 180
        while not (state.exists() and json.loads(state.read_text())["iteration"] >= 20):
            assert training.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.5)
    finally:
        training.kill()
        training.wait()
    saved = json.loads(state.read_text())["iteration"]

    resumed = kedro_run(
        project, "--pipeline", "synthesis", "--params",
        f"synthesis.checkpoint_dir={checkpoint},synthesis.profiles.cpu.iterations={saved + 10}",
    )

    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming GAN training from iteration {saved}" in resumed.stdout + resumed.stderr
    assert json.loads(state.read_text())["iteration"] == saved + 10
