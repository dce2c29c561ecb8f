"""The study's fan-out: every strategy x seed trained, calibrated and reported by its own ``kedro run``.

Each job is the strategy's own pipeline from balancing to the test report, run in a workspace of
its own (the shared prepared data linked in, its models and reports kept apart, so jobs can run
side by side) and logged as an MLflow child run of the study's run. The study then reads every
job's test predictions and threshold back from its MLflow run.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from kedro.framework.project import pipelines as registered_pipelines
from kedro.utils import find_kedro_project
from mlflow.tracking import MlflowClient

from ...strategies import STRATEGIES, STRATEGY_TABLE
from ...tracking import absolute_tracking_uri
from .nodes import STUDY_PREDICTION_COLUMNS

logger = logging.getLogger(__name__)

# Data layers a job reads from the study's own run (prepared images, the split, synthetic images);
# every other layer (its balanced set, model, reports) is the job's own, so jobs can run side by side.
SHARED_DATA_LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature")
JOB_ENV = "study_job"
# The last nodes of a strategy a study needs: the test report and the curves. The stress report,
# model card, packaging and explanations are left out of study jobs (not in the comparison).
JOB_LAST_NODES = ("track_test_metrics_node", "track_training_history_node")
PREDICTION_ARTIFACTS = "predictions"
KEDRO = str(Path(sys.executable).parent / "kedro")


class StudyJobError(RuntimeError):
    """A study job's ``kedro run`` failed."""


def study_strategies(study: dict) -> list[str]:
    """The strategies of the study: ``study.strategies``, or every strategy when it is null."""
    return list(study["strategies"] or STRATEGIES)


def study_jobs(study: dict, training_seed: int) -> list[dict]:
    """The (strategy, seed) jobs, strategy-major. Seed i is ``training.seed + i``: it sets the
    classifier's initialisation, the batch order and the online augmentation, and the balancing
    draws of strategies that have a seed (and the GAN's when ``retrain_gan_per_seed``)."""
    return [
        {"strategy": strategy, "seed": training_seed + offset}
        for strategy in study_strategies(study)
        for offset in range(study["seeds"])
    ]


def job_name(job: dict) -> str:
    return f"{job['strategy']}-seed{job['seed']}"


def prepare_workspace(
    folder: Path, project_path: Path, parameters: dict, tracking_uri: str, run_name: str, own_gan: bool
) -> None:
    """A project folder for one job: this project's conf/base, the study's resolved parameters as
    environment ``study_job``, the shared data layers linked in, and the study's MLflow store with
    ``run_name`` for the job's run. With ``own_gan`` the feature layer (where the synthetic images
    live) is copied, not linked, so the job's GAN replaces its own synthetic images only."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(project_path / "pyproject.toml", folder / "pyproject.toml")
    (folder / "src").mkdir(exist_ok=True)
    shutil.copytree(project_path / "conf" / "base", folder / "conf" / "base", dirs_exist_ok=True)
    job_conf = folder / "conf" / JOB_ENV
    job_conf.mkdir(parents=True, exist_ok=True)
    (job_conf / "parameters.yml").write_text(yaml.safe_dump(parameters, sort_keys=False))
    # An environment's mlflow.yml replaces base's top-level blocks whole: write them all.
    mlflow_conf = yaml.safe_load((folder / "conf" / "base" / "mlflow.yml").read_text())
    mlflow_conf["server"]["mlflow_tracking_uri"] = tracking_uri
    mlflow_conf["tracking"]["run"]["name"] = run_name
    (job_conf / "mlflow.yml").write_text(yaml.safe_dump(mlflow_conf, sort_keys=False))
    for layer in SHARED_DATA_LAYERS:
        link, target = folder / "data" / layer, (project_path / "data" / layer).resolve()
        link.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or link.exists():
            continue
        if own_gan and layer == "04_feature":
            shutil.copytree(target, link)
        else:
            link.symlink_to(target, target_is_directory=True)


def job_nodes(strategy: str, own_gan: bool) -> list[str]:
    """The nodes of one job: what the strategy's test report and curves need, less the shared data
    preparation and (unless ``own_gan``) the shared GAN, which the study's own run made."""
    needed = registered_pipelines[strategy].to_nodes(*(f"{strategy}.{node}" for node in JOB_LAST_NODES))
    shared = registered_pipelines["data_preparation" if own_gan else "synthesis"]
    return sorted(node.name for node in (needed - shared).nodes)


def job_command(job: dict, parameters: dict, nodes: list[str], own_gan: bool) -> list[str]:
    """The ``kedro run`` of one job: the ``nodes`` of its strategy's pipeline, with its seed."""
    strategy, seed = job["strategy"], job["seed"]
    overrides = [f"training.seed={seed}"]
    if "seed" in parameters.get(strategy, {}).get("balancing", {}):
        overrides.append(f"{strategy}.balancing.seed={seed}")
    if own_gan:
        overrides.append(f"synthesis.seed={seed}")
    return [
        KEDRO, "run", "--env", JOB_ENV, "--pipeline", strategy, "--nodes", ",".join(nodes), "--params", ",".join(overrides)
    ]


def run_job(job: dict, command: list[str], workspace: str, run_id: str) -> dict:
    """Run one job's ``kedro run`` in ``workspace`` inside the MLflow run ``run_id``."""
    environment = {**os.environ, "MLFLOW_RUN_ID": run_id, "KEDRO_DISABLE_TELEMETRY": "true"}
    finished = subprocess.run(command, cwd=workspace, capture_output=True, text=True, env=environment)
    return {**job, "run_id": run_id, "returncode": finished.returncode, "log_tail": (finished.stdout + finished.stderr)[-4000:]}


def run_jobs(jobs: list[dict], commands: list[list[str]], workspaces: list[str], run_ids: list[str], study: dict) -> list[dict]:
    """Run the jobs one after another (``sequential``) or as Ray tasks (``ray``: this machine, or
    the cluster at ``RAY_ADDRESS``; every worker must see the project folder)."""
    if study["backend"] == "sequential":
        results = []
        for job, command, workspace, run_id in zip(jobs, commands, workspaces, run_ids):
            logger.info("Study job %s (%d of %d).", job_name(job), len(results) + 1, len(jobs))
            results.append(run_job(job, command, workspace, run_id))
        return results
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False)
    remote_job = ray.remote(num_cpus=study["cpus_per_job"])(run_job)
    return ray.get([remote_job.remote(*arguments) for arguments in zip(jobs, commands, workspaces, run_ids)])


def job_predictions(client: MlflowClient, result: dict) -> pd.DataFrame:
    """A finished job's test predictions with its model's threshold, read from its MLflow run."""
    strategy = result["strategy"]
    with tempfile.TemporaryDirectory() as folder:
        local = Path(client.download_artifacts(result["run_id"], f"{strategy}/{PREDICTION_ARTIFACTS}", folder))
        predictions = pd.read_csv(local / "test_predictions.csv")
        threshold = json.loads((local / "decision_threshold.json").read_text())["threshold"]
    return predictions.assign(strategy=strategy, seed=result["seed"], threshold=threshold)[list(STUDY_PREDICTION_COLUMNS)]


def run_study_models(
    image_split: pd.DataFrame, synthetic_normal_images: dict, parameters: dict, study: dict
) -> pd.DataFrame:
    """Train and report every strategy of ``study.strategies`` over ``study.seeds`` seeds, each job an
    MLflow child run of this run; returns their test predictions, one row per job and test image
    (``STUDY_PREDICTION_COLUMNS``).

    ``image_split`` and ``synthetic_normal_images`` only order this node after data preparation
    and the GAN, whose outputs every job reads. Raises StudyJobError naming each failed job.
    """
    del image_split, synthetic_normal_images
    parent = mlflow.active_run()
    if parent is None:
        raise StudyJobError("The study needs MLflow tracking (conf/base/mlflow.yml): its jobs are MLflow child runs.")
    client = MlflowClient()
    project_path = find_kedro_project(Path.cwd()) or Path.cwd()
    tracking_uri = absolute_tracking_uri(mlflow.get_tracking_uri(), project_path)
    jobs = study_jobs(study, parameters["training"]["seed"])
    root = project_path / study["workspace"] / parent.info.run_id
    workspaces, run_ids, commands = [], [], []
    for job in jobs:
        own_gan = study["retrain_gan_per_seed"] and STRATEGY_TABLE[job["strategy"]].uses_synthetic_images
        workspace = root / job_name(job)
        prepare_workspace(workspace, project_path, parameters, tracking_uri, job_name(job), own_gan)
        child = client.create_run(
            parent.info.experiment_id,
            run_name=job_name(job),
            tags={"mlflow.parentRunId": parent.info.run_id, "study.strategy": job["strategy"], "study.seed": str(job["seed"])},
        )
        workspaces.append(str(workspace))
        run_ids.append(child.info.run_id)
        commands.append(job_command(job, parameters, job_nodes(job["strategy"], own_gan), own_gan))
    results = run_jobs(jobs, commands, workspaces, run_ids, study)
    failed = [result for result in results if result["returncode"] != 0]
    if failed:
        details = "\n\n".join(f"{job_name(result)} (exit {result['returncode']}):\n{result['log_tail']}" for result in failed)
        raise StudyJobError(f"{len(failed)} of {len(results)} study jobs failed; their workspaces are under '{root}'.\n{details}")
    return pd.concat([job_predictions(client, result) for result in results], ignore_index=True)
