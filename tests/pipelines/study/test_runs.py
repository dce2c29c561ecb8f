"""The study's fan-out for real: `kedro run --pipeline study` on tiny data, its jobs as Ray tasks,
each a Kedro session of the same project logged as an MLflow child run; and the job plumbing itself."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.project import pipelines as registered_pipelines
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.strategies import STUDY_GAN_TAG, STUDY_MODEL_TAG
from pediatric_pneumonia.study.jobs import gan_jobs, job_name, job_spec, run_jobs, study_jobs, with_overrides
from tests.conftest import (
    REPO_ROOT,
    TEST_PARAMETERS,
    create_project,
    latest_version,
    make_raw_dataset,
    study_parameters,
)

KEDRO = str(Path(sys.executable).parent / "kedro")
STUDY_STRATEGIES = ["baseline", "gan"]
GAN_PROFILES = ["cpu", "cpu_stable"]
STUDY_MODELS = ["baseline", "gan@cpu", "gan@cpu_stable"]


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    """`kedro run --pipeline study` with baseline and gan x two GAN profiles x two seeds on the Ray
    backend: the study's run trains the cpu GAN, a GAN job of its own the cpu_stable one."""
    pytest.importorskip("ray", reason="the study's Ray backend needs Ray: pip install -e '.[test]'")
    base = tmp_path_factory.mktemp("study")
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    study = {
        "strategies": STUDY_STRATEGIES, "gan_profiles": GAN_PROFILES, "seeds": 2, "bootstrap_resamples": 50,
        "backend": "ray", "cpus_per_job": 1,
    }
    tiny_gan = TEST_PARAMETERS["synthesis"]["profiles"]["cpu"]
    synthesis = {"profiles": {"cpu": tiny_gan, "cpu_stable": tiny_gan}}
    parameters = {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}, "study": study, "synthesis": synthesis}
    project = create_project(base / "project", parameters)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("MLFLOW_", "RAY_"))}
    finished = subprocess.run(
        [KEDRO, "run", "--env", "test", "--pipeline", "study"],
        cwd=project,
        env={**environment, "KEDRO_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-6000:]
    return project


@pytest.mark.slow
def test_the_comparison_has_every_strategy_over_its_seeds(finished_study):
    reports = finished_study / "data/08_reporting/study"
    comparison = pd.read_csv(latest_version(reports / "comparison.csv"))
    predictions = pd.read_csv(latest_version(finished_study / "data/07_model_output/study/study_predictions.csv"))

    assert comparison["strategy"].tolist() == STUDY_MODELS
    assert comparison["n_seeds"].tolist() == [2, 2, 2]
    assert comparison["n_images"].tolist() == [20, 20, 20]
    assert sorted(predictions.groupby(["strategy", "seed"]).size().items()) == [
        ((model, seed), 20) for model in STUDY_MODELS for seed in (42, 43)
    ]
    assert 0.0 <= comparison.loc[1, "mcnemar_p_holm"] <= 1.0
    assert latest_version(reports / "comparison.md").read_text().startswith("#")
    assert latest_version(reports / "comparison.png").read_bytes().startswith(b"\x89PNG")
    spread = pd.read_csv(latest_version(reports / "seed_spread.csv"))
    figures = set(spread["figure"])
    assert set(spread["strategy"]) == set(STUDY_MODELS) and set(spread["n_seeds"]) == {2}
    assert {"validation.specificity", "operating_point.threshold", "stress.validation.roc_auc_mean"} <= figures
    assert any(figure.startswith("shortcuts.validation.") for figure in figures)
    assert not any(".test." in figure or figure.startswith("test") for figure in figures)
    assert "## Seed spread" in latest_version(reports / "comparison.md").read_text()


@pytest.mark.slow
def test_each_job_is_a_finished_child_run_of_the_study_run(finished_study):
    client = MlflowClient(f"sqlite:///{finished_study / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pediatric_pneumonia")
    runs = client.search_runs([experiment.experiment_id])
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    parents = {run.data.tags["mlflow.parentRunId"] for run in children}

    assert len(runs) == 8 and len(parents) == 1
    assert {run.info.run_id for run in runs} - {run.info.run_id for run in children} == parents
    assert sorted(run.info.run_name for run in children) == sorted(
        ["gan@cpu_stable"] + [f"{model}-seed{seed}" for model in STUDY_MODELS for seed in (42, 43)]
    )
    gan_job = next(run for run in children if run.info.run_name == "gan@cpu_stable")
    assert gan_job.info.status == "FINISHED" and gan_job.data.params["synthesis.profile"] == "cpu_stable"
    assert "synthesis.train.normal.generator_loss" in gan_job.data.metrics
    for run in children:
        if run is gan_job:
            continue
        strategy = run.data.tags["study.strategy"]
        model = run.data.tags["study.model"]
        assert run.data.tags.get("study.gan_profile") == (model.split("@")[1] if "@" in model else None)
        assert run.info.status == "FINISHED", run.info.run_name
        assert run.data.params["training.seed"] == run.data.tags["study.seed"]
        assert 0.0 <= run.data.metrics[f"{strategy}.test.roc_auc"] <= 1.0
        assert f"{strategy}.validation.loss" in run.data.metrics
        artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id, strategy)}
        assert f"{strategy}/predictions" in artifacts and f"{strategy}/model" in artifacts


@pytest.mark.slow
def test_each_gan_profile_balances_with_its_own_synthetic_images(finished_study):
    workspaces = next((finished_study / "data/09_study").iterdir())
    synthetic = {}
    for profile in GAN_PROFILES:
        balanced = workspaces / f"gan@{profile}-seed42" / "data/05_model_input/gan/balanced_train_set.npz"
        with np.load(balanced) as arrays:
            synthetic[profile] = arrays["images"][[path.startswith("synthetic:") for path in arrays["paths"]]]

    assert len(synthetic["cpu"]) == len(synthetic["cpu_stable"]) > 0
    assert not np.array_equal(synthetic["cpu"], synthetic["cpu_stable"])


@pytest.mark.slow
def test_a_job_writes_its_files_in_its_job_folder_of_the_real_project(finished_study):
    job_folders = next((finished_study / "data/09_study").iterdir())
    baseline = job_folders / "baseline-seed42"
    spec = json.loads((baseline / "job.json").read_text())

    assert spec["project_path"] == str(finished_study.resolve()) and spec["env"] == "test"
    assert spec["parameters"]["training"]["seed"] == 42 and spec["parameters"]["study"]["seeds"] == 2
    assert latest_version(baseline / "data/06_models/baseline/classifier.keras").stat().st_size > 0
    assert (baseline / "data/07_model_output/baseline/test_predictions.csv").is_dir()
    # The study's own run made the shared data and the cpu GAN; no job wrote into the project's folders.
    assert not (finished_study / "data/06_models/baseline").exists()
    assert not (finished_study / "data/05_model_input").exists()
    gan_job = job_folders / "gan@cpu_stable"
    assert (gan_job / "data/04_feature/synthetic_set.npz").is_file()
    assert not (job_folders / "gan@cpu_stable-seed42/data/04_feature").exists()  # read from the GAN job's folder


@pytest.mark.slow
def test_a_study_job_is_no_fake_project(finished_study):
    made = list((finished_study / "data/09_study").rglob("*"))

    assert made and not [path for path in made if path.name in ("pyproject.toml", "src", "conf") or path.is_symlink()]


@pytest.mark.slow
def test_the_seed_changes_the_model(finished_study):
    predictions = pd.read_csv(latest_version(finished_study / "data/07_model_output/study/study_predictions.csv"))
    baseline = predictions[predictions["strategy"] == "baseline"].pivot(index="path", columns="seed", values="probability")

    assert not baseline[42].equals(baseline[43])


def nodes_run_by(spec: dict) -> list[str]:
    """The nodes a job's Kedro session runs: those of its registered pipeline with one of its tags."""
    bootstrap_project(REPO_ROOT)
    return sorted(node.name for node in registered_pipelines[spec["pipeline"]].only_nodes_with_tags(*spec["tags"]).nodes)


def test_a_job_runs_its_strategy_with_its_seed():
    spec = job_spec({"strategy": "oversample", "seed": 44}, {"oversample": {"balancing": {"seed": 1}}}, False)

    assert spec["pipeline"] == "oversample"
    assert spec["tags"] == [STUDY_MODEL_TAG]
    assert spec["overrides"] == {"training.seed": 44, "oversample.balancing.seed": 44}
    own_gan = job_spec({"strategy": "gan", "seed": 43}, {"gan": {"balancing": {}}}, own_gan=True)
    assert own_gan["tags"] == [STUDY_MODEL_TAG, STUDY_GAN_TAG]
    assert own_gan["overrides"] == {"training.seed": 43, "synthesis.seed": 43}


def test_a_jobs_overrides_change_only_their_keys_of_a_copy_of_the_parameters():
    parameters = {"training": {"seed": 42, "epochs": 3}, "oversample": {"balancing": {"seed": 1}}}

    updated = with_overrides(parameters, {"training.seed": 44, "oversample.balancing.seed": 44})

    assert updated == {"training": {"seed": 44, "epochs": 3}, "oversample": {"balancing": {"seed": 44}}}
    assert parameters["training"]["seed"] == 42


def test_a_job_runs_what_its_reports_and_seed_spread_need_without_the_shared_stages():
    nodes = nodes_run_by(job_spec({"strategy": "gan", "seed": 1}, {}, own_gan=False))

    assert "gan.balance_training_set_node" in nodes and "gan.track_test_metrics_node" in nodes
    assert "gan.find_test_duplicates_node" in nodes and "gan.track_training_history_node" in nodes
    assert not {"train_gan_node", "assign_subsets_node"} & set(nodes)
    assert "gan.track_stress_metrics_node" in nodes and "gan.track_shortcut_audit_node" in nodes
    assert not any(part in node for node in nodes for part in ("explain", "model_card", "plot_"))
    own_gan = nodes_run_by(job_spec({"strategy": "gan", "seed": 1}, {}, own_gan=True))
    assert set(own_gan) - set(nodes) == {"train_gan_node", "generate_synthetic_images_node", "plot_gan_losses_node"}


def test_the_jobs_are_every_strategy_times_every_seed_from_the_training_seed():
    jobs = study_jobs(study_parameters(strategies=None, seeds=2), training_seed=7, default_gan_profile="cpu")

    assert len(jobs) == 12 and [(job["model"], job["seed"]) for job in jobs[:2]] == [("baseline", 7), ("baseline", 8)]
    assert {job["gan_profile"] for job in jobs if job["strategy"] in ("gan", "combined")} == {"cpu"}
    assert {job["gan_profile"] for job in jobs if job["strategy"] == "baseline"} == {None}


def test_listed_gan_profiles_multiply_the_synthetic_image_strategies_only():
    study = {"strategies": ["baseline", "gan", "combined"], "seeds": 2, "gan_profiles": ["cpu", "cpu_stable"]}
    listed = study_parameters(**study)

    jobs = study_jobs(listed, training_seed=1, default_gan_profile="cpu")

    assert [job_name(job) for job in jobs] == [
        "baseline-seed1", "baseline-seed2",
        "gan@cpu-seed1", "gan@cpu-seed2", "gan@cpu_stable-seed1", "gan@cpu_stable-seed2",
        "combined@cpu-seed1", "combined@cpu-seed2", "combined@cpu_stable-seed1", "combined@cpu_stable-seed2",
    ]
    gans = gan_jobs(jobs, study_parameters(**study, retrain_gan_per_seed=False), default_gan_profile="cpu")
    assert [(job["strategy"], job["gan_profile"], job_name(job)) for job in gans] == [("synthesis", "cpu_stable", "gan@cpu_stable")]
    assert gan_jobs(jobs, study_parameters(**study, retrain_gan_per_seed=True), default_gan_profile="cpu") == []


def test_a_job_trains_with_its_gan_profile_and_a_gan_job_has_no_seed():
    model = job_spec({"strategy": "gan", "seed": 43, "gan_profile": "cpu_stable"}, {"gan": {"balancing": {}}}, False)
    gan = job_spec({"strategy": "synthesis", "gan_profile": "cpu_stable", "model": "gan@cpu_stable"}, {}, own_gan=True)

    assert model["overrides"] == {"training.seed": 43, "synthesis.profile": "cpu_stable"}
    assert gan["pipeline"] == "synthesis"
    assert gan["overrides"] == {"synthesis.profile": "cpu_stable"}


def test_a_gan_job_runs_the_synthesis_without_the_data_preparation():
    spec = job_spec({"strategy": "synthesis", "gan_profile": "cpu_stable", "model": "gan@cpu_stable"}, {}, own_gan=True)

    assert nodes_run_by(spec) == ["generate_synthetic_images_node", "plot_gan_losses_node", "train_gan_node"]


def test_a_failed_job_is_named_with_its_exit_code_and_log(tmp_path):
    jobs = [{"strategy": "baseline", "seed": 1}, {"strategy": "gan", "seed": 1}]
    commands = [[sys.executable, "-c", "print('trained')"], [sys.executable, "-c", "import sys; sys.exit('GAN diverged')"]]

    results = run_jobs(jobs, commands, [str(tmp_path)] * 2, ["run-a", "run-b"], study_parameters(backend="sequential"))

    assert [result["returncode"] for result in results] == [0, 1]
    assert "GAN diverged" in results[1]["log_tail"] and results[0]["run_id"] == "run-a"
    assert json.dumps(results)  # plain data, as Ray returns it
