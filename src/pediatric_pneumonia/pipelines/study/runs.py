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
from .nodes import STUDY_PREDICTION_COLUMNS, model_label

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


def study_jobs(study: dict, training_seed: int, default_gan_profile: str) -> list[dict]:
    """The (strategy, GAN profile, seed) jobs, strategy-major. Seed i is ``training.seed + i``: it
    sets the classifier's initialisation, the batch order and the online augmentation, and the
    balancing draws of strategies that have a seed (and the GAN's when ``retrain_gan_per_seed``).

    A strategy that uses synthetic images gets one model per seed for each of ``study.gan_profiles``
    (null: ``default_gan_profile`` alone), compared as ``<strategy>@<profile>`` when the profiles
    are listed; ``gan_profile`` is None for the others.
    """
    listed = study.get("gan_profiles")
    jobs = []
    for strategy in study_strategies(study):
        synthetic = STRATEGY_TABLE[strategy].uses_synthetic_images
        for profile in (listed or [default_gan_profile]) if synthetic else [None]:
            model = model_label(strategy, profile) if synthetic and listed else strategy
            jobs += [
                {"strategy": strategy, "gan_profile": profile, "model": model, "seed": training_seed + offset}
                for offset in range(study["seeds"])
            ]
    return jobs


def gan_jobs(jobs: list[dict], study: dict, default_gan_profile: str) -> list[dict]:
    """One GAN training per profile the jobs use other than ``default_gan_profile`` (which the
    study's own run trains), unless every job trains its own GAN (``retrain_gan_per_seed``)."""
    if study["retrain_gan_per_seed"]:
        return []
    profiles = dict.fromkeys(job["gan_profile"] for job in jobs if job["gan_profile"] not in (None, default_gan_profile))
    return [{"strategy": "synthesis", "gan_profile": profile, "model": model_label("gan", profile)} for profile in profiles]


def job_name(job: dict) -> str:
    model = job.get("model", job["strategy"])
    return f"{model}-seed{job['seed']}" if job.get("seed") is not None else model


def prepare_workspace(
    folder: Path,
    project_path: Path,
    parameters: dict,
    tracking_uri: str,
    run_name: str,
    own_gan: bool,
    synthetic_images_from: Path | None = None,
) -> None:
    """A project folder for one job: this project's conf/base, the study's resolved parameters as
    environment ``study_job``, the shared data layers linked in, and the study's MLflow store with
    ``run_name`` for the job's run. With ``own_gan`` the feature layer (where the synthetic images
    live) is copied, not linked, so the job's GAN replaces its own synthetic images only; with
    ``synthetic_images_from`` (a GAN job's workspace) that folder's feature layer is linked instead
    of the project's."""
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
        source = synthetic_images_from if layer == "04_feature" and synthetic_images_from else project_path
        link, target = folder / "data" / layer, (source / "data" / layer).resolve()
        link.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or link.exists():
            continue
        if own_gan and layer == "04_feature":
            shutil.copytree(target, link)
        else:
            link.symlink_to(target, target_is_directory=True)


def job_nodes(strategy: str, own_gan: bool) -> list[str]:
    """The nodes of one job: what the strategy's test report and curves need, less the shared data
    preparation and (unless ``own_gan``) the shared GAN, which the study's own run made. The
    ``synthesis`` job of a GAN profile is the synthesis pipeline less the data preparation."""
    if strategy == "synthesis":
        return sorted(node.name for node in (registered_pipelines["synthesis"] - registered_pipelines["data_preparation"]).nodes)
    needed = registered_pipelines[strategy].to_nodes(*(f"{strategy}.{node}" for node in JOB_LAST_NODES))
    shared = registered_pipelines["data_preparation" if own_gan else "synthesis"]
    return sorted(node.name for node in (needed - shared).nodes)


def job_command(job: dict, parameters: dict, nodes: list[str], own_gan: bool) -> list[str]:
    """The ``kedro run`` of one job: the ``nodes`` of its strategy's pipeline, with its seed and
    GAN profile (a GAN job of the ``synthesis`` pipeline has only the profile)."""
    strategy, seed = job["strategy"], job.get("seed")
    overrides = [] if seed is None else [f"training.seed={seed}"]
    if seed is not None and "seed" in parameters.get(strategy, {}).get("balancing", {}):
        overrides.append(f"{strategy}.balancing.seed={seed}")
    if own_gan and seed is not None:
        overrides.append(f"synthesis.seed={seed}")
    if job.get("gan_profile"):
        overrides.append(f"synthesis.profile={job['gan_profile']}")
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
    return predictions.assign(strategy=result["model"], seed=result["seed"], threshold=threshold)[list(STUDY_PREDICTION_COLUMNS)]


def run_study_models(
    image_split: pd.DataFrame, synthetic_normal_images: dict, parameters: dict, study: dict
) -> pd.DataFrame:
    """Train and report every strategy of ``study.strategies`` over ``study.seeds`` seeds (the
    synthetic-image ones with each of ``study.gan_profiles``), each job an MLflow child run of this
    run; returns their test predictions, one row per job and test image (``STUDY_PREDICTION_COLUMNS``).

    ``image_split`` and ``synthetic_normal_images`` only order this node after data preparation
    and the GAN of ``synthesis.profile``, whose outputs every job reads; a GAN of another profile
    is trained once, by a job of its own, before the models that use it. Raises StudyJobError
    naming each failed job.
    """
    del image_split, synthetic_normal_images
    parent = mlflow.active_run()
    if parent is None:
        raise StudyJobError("The study needs MLflow tracking (conf/base/mlflow.yml): its jobs are MLflow child runs.")
    client = MlflowClient()
    project_path = find_kedro_project(Path.cwd()) or Path.cwd()
    tracking_uri = absolute_tracking_uri(mlflow.get_tracking_uri(), project_path)
    default_profile = parameters["synthesis"]["profile"]
    jobs = study_jobs(study, parameters["training"]["seed"], default_profile)
    root = project_path / study["workspace"] / parent.info.run_id

    def launch(wave: list[dict], gan_workspaces: dict[str, Path]) -> list[dict]:
        if not wave:
            return []
        workspaces, run_ids, commands = [], [], []
        for job in wave:
            own_gan = job["strategy"] == "synthesis" or (
                study["retrain_gan_per_seed"] and STRATEGY_TABLE[job["strategy"]].uses_synthetic_images
            )
            workspace = root / job_name(job)
            prepare_workspace(
                workspace, project_path, parameters, tracking_uri, job_name(job), own_gan, gan_workspaces.get(job["gan_profile"])
            )
            tags = {"mlflow.parentRunId": parent.info.run_id, "study.strategy": job["strategy"], "study.model": job["model"]}
            tags |= {f"study.{key}": str(job[key]) for key in ("seed", "gan_profile") if job.get(key) is not None}
            child = client.create_run(parent.info.experiment_id, run_name=job_name(job), tags=tags)
            workspaces.append(str(workspace))
            run_ids.append(child.info.run_id)
            commands.append(job_command(job, parameters, job_nodes(job["strategy"], own_gan), own_gan))
        results = run_jobs(wave, commands, workspaces, run_ids, study)
        failed = [result for result in results if result["returncode"] != 0]
        if failed:
            details = "\n\n".join(f"{job_name(result)} (exit {result['returncode']}):\n{result['log_tail']}" for result in failed)
            raise StudyJobError(f"{len(failed)} of {len(results)} study jobs failed; their workspaces are under '{root}'.\n{details}")
        return results

    gans = gan_jobs(jobs, study, default_profile)
    launch(gans, {})
    results = launch(jobs, {job["gan_profile"]: root / job_name(job) for job in gans})
    return pd.concat([job_predictions(client, result) for result in results], ignore_index=True)
