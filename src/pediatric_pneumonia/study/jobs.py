"""The study's jobs: every strategy x seed model, and the GAN of each GAN profile the study lists
besides ``synthesis.profile``, each an MLflow child run of the study's run.

A job is a Kedro session of this very project (``job.py``) started as a process of its own, one
after another (``sequential``) or as Ray tasks (``ray``). Its job folder,
``<study.workspace>/<study run id>/<job name>/``, holds what it ran (``job.json``) and every file it
writes, at the same path as in the project (``data/06_models/baseline/classifier.keras``...), so jobs
running side by side never share a file. Jobs read the shared prepared data where the study's own run
wrote it, and a model of a listed GAN profile reads its synthetic images from that profile's GAN job.
A job runs the nodes of its pipeline that carry its tags (``strategies.study_job_tags``): the registry
tags them, so the study names no node and imports no pipeline.
"""

import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ..evaluation.frames import pneumonia_probability, probabilities_of
from ..parameters import Study
from ..strategies import STRATEGY_TABLE, study_job_tags
from ..tracking import absolute_tracking_uri
from .comparison import study_prediction_columns
from .parameters import model_label, study_strategies

logger = logging.getLogger(__name__)

PREDICTION_ARTIFACTS = "predictions"
SPEC_FILE = "job.json"
JOB_COMMAND = (sys.executable, "-m", "pediatric_pneumonia.study.job")


class StudyJobError(RuntimeError):
    """A study job failed."""


def study_jobs(study: Study, training_seed: int, default_gan_profile: str) -> list[dict]:
    """The (strategy, GAN profile, seed) jobs, strategy-major. Seed i is ``training.seed + i``: it
    sets the classifier's initialisation, the batch order and the online augmentation, and the
    balancing draws of strategies that have a seed (and the GAN's when ``retrain_gan_per_seed``).

    A strategy that uses synthetic images gets one model per seed for each of ``study.gan_profiles``
    (null: ``default_gan_profile`` alone), compared as ``<strategy>@<profile>`` when the profiles
    are listed; ``gan_profile`` is None for the others.
    """
    listed = study.gan_profiles
    jobs = []
    for strategy in study_strategies(study):
        synthetic = STRATEGY_TABLE[strategy].uses_synthetic_images
        for profile in (listed or [default_gan_profile]) if synthetic else [None]:
            model = model_label(strategy, profile) if synthetic and listed else strategy
            jobs += [
                {"strategy": strategy, "gan_profile": profile, "model": model, "seed": training_seed + offset}
                for offset in range(study.seeds)
            ]
    return jobs


def gan_jobs(jobs: list[dict], study: Study, default_gan_profile: str) -> list[dict]:
    """One GAN training per profile the jobs use other than ``default_gan_profile`` (which the
    study's own run trains), unless every job trains its own GAN (``retrain_gan_per_seed``)."""
    if study.retrain_gan_per_seed:
        return []
    profiles = dict.fromkeys(job["gan_profile"] for job in jobs if job["gan_profile"] not in (None, default_gan_profile))
    return [{"strategy": "synthesis", "gan_profile": profile, "model": model_label("gan", profile)} for profile in profiles]


def job_name(job: dict) -> str:
    model = job.get("model", job["strategy"])
    return f"{model}-seed{job['seed']}" if job.get("seed") is not None else model


def trains_own_gan(job: dict, study: Study) -> bool:
    """Whether the job trains a GAN: a GAN job, or any synthetic-image model with ``retrain_gan_per_seed``."""
    if job["strategy"] == "synthesis":
        return True
    return study.retrain_gan_per_seed and STRATEGY_TABLE[job["strategy"]].uses_synthetic_images


def job_spec(job: dict, parameters: dict, own_gan: bool) -> dict:
    """What one job runs: the nodes of its strategy's pipeline with its ``tags`` (the model's, and the
    GAN's when ``own_gan``; never the shared data preparation, nor the shared GAN, which the study's own
    run made), with its seed and GAN profile as parameter overrides (a GAN job of the ``synthesis``
    pipeline runs the GAN's nodes and has only the profile)."""
    strategy, seed = job["strategy"], job.get("seed")
    overrides = {} if seed is None else {"training.seed": seed}
    if seed is not None and "seed" in parameters.get(strategy, {}).get("balancing", {}):
        overrides[f"{strategy}.balancing.seed"] = seed
    if own_gan and seed is not None:
        overrides["synthesis.seed"] = seed
    if job.get("gan_profile"):
        overrides["synthesis.profile"] = job["gan_profile"]
    tags = study_job_tags(trains_model=strategy != "synthesis", trains_gan=own_gan)
    return {"pipeline": strategy, "tags": tags, "overrides": overrides}


def with_overrides(parameters: dict, overrides: dict[str, object]) -> dict:
    """A copy of ``parameters`` with each dotted key of ``overrides`` (``training.seed``) set."""
    updated = copy.deepcopy(parameters)
    for key, value in overrides.items():
        *groups, name = key.split(".")
        block = updated
        for group in groups:
            block = block.setdefault(group, {})
        block[name] = value
    return updated


def run_job(job: dict, command: list[str], cwd: str, run_id: str) -> dict:
    """Run one job's process (``command``, in ``cwd``); returns the job with its MLflow run, exit code and log tail."""
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    finished = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment)
    return {**job, "run_id": run_id, "returncode": finished.returncode, "log_tail": (finished.stdout + finished.stderr)[-4000:]}


def run_jobs(jobs: list[dict], commands: list[list[str]], cwds: list[str], run_ids: list[str], study: Study) -> list[dict]:
    """Run the jobs one after another (``sequential``) or as Ray tasks (``ray``: this machine, or
    the cluster at ``RAY_ADDRESS``; every worker must see the project folder)."""
    if study.backend == "sequential":
        results = []
        for job, command, cwd, run_id in zip(jobs, commands, cwds, run_ids):
            logger.info("Study job %s (%d of %d).", job_name(job), len(results) + 1, len(jobs))
            results.append(run_job(job, command, cwd, run_id))
        return results
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False)
    remote_job = ray.remote(num_cpus=study.cpus_per_job)(run_job)
    return ray.get([remote_job.remote(*arguments) for arguments in zip(jobs, commands, cwds, run_ids)])


def launch_jobs(
    wave: list[dict], parent_run_id: str, parameters: dict, study: Study, project_path: Path, root: Path,
    gan_folders: dict[str, Path],
) -> list[dict]:
    """Write each job's ``job.json`` in its folder under ``root``, open its MLflow child run of
    the study's run and run the ``wave``; raises StudyJobError naming each failed job.

    ``gan_folders`` maps a GAN profile to the folder of the GAN job that trained it: its models read
    what that job wrote (their synthetic images) there."""
    client = MlflowClient()
    parent = client.get_run(parent_run_id)
    env = parent.data.tags.get("env")  # kedro-mlflow tags the study's run with its Kedro environment
    commands, run_ids = [], []
    for job in wave:
        own_gan = trains_own_gan(job, study)
        folder = root / job_name(job)
        folder.mkdir(parents=True, exist_ok=True)
        tags = {"mlflow.parentRunId": parent.info.run_id, "study.strategy": job["strategy"], "study.model": job["model"]}
        tags |= {f"study.{key}": str(job[key]) for key in ("seed", "gan_profile") if job.get(key) is not None}
        child = client.create_run(parent.info.experiment_id, run_name=job_name(job), tags=tags)
        spec = job_spec(job, parameters, own_gan)
        if own_gan:  # the GAN's checkpoints go to a folder named by a parameter, not the catalog: the job's own
            spec["overrides"]["synthesis.checkpoint_dir"] = str(folder / parameters["synthesis"]["checkpoint_dir"])
        gan_folder = gan_folders.get(job["gan_profile"])
        spec |= {
            "project_path": str(project_path), "env": env, "tracking_uri": absolute_tracking_uri(mlflow.get_tracking_uri(), project_path),
            "run_id": child.info.run_id, "folder": str(folder),
            "reads_from": [str(gan_folder)] if gan_folder and not own_gan else [],
            "parameters": with_overrides(parameters, spec["overrides"]),
        }
        (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2))
        commands.append([*JOB_COMMAND, str(folder / SPEC_FILE)])
        run_ids.append(child.info.run_id)
    results = run_jobs(wave, commands, [str(project_path)] * len(wave), run_ids, study) if wave else []
    failed = [result for result in results if result["returncode"] != 0]
    if failed:
        details = "\n\n".join(f"{job_name(result)} (exit {result['returncode']}):\n{result['log_tail']}" for result in failed)
        raise StudyJobError(f"{len(failed)} of {len(results)} study jobs failed; their folders are under '{root}'.\n{details}")
    return results


def job_predictions(client: MlflowClient, result: dict, classes: list[str]) -> pd.DataFrame:
    """A finished job's test predictions of a model of ``classes``, read from its MLflow run, as rows of
    ``study_predictions``: with its model's threshold and P(pneumonia) as ``probability`` (for a K-class
    model, 1 - P(NORMAL), beside each class's probability)."""
    strategy = result["strategy"]
    with tempfile.TemporaryDirectory() as folder:
        local = Path(client.download_artifacts(result["run_id"], f"{strategy}/{PREDICTION_ARTIFACTS}", folder))
        predictions = pd.read_csv(local / "test_predictions.csv")
        threshold = json.loads((local / "decision_threshold.json").read_text())["threshold"]
    pneumonia = pneumonia_probability(probabilities_of(predictions, "probability", classes))
    rows = predictions.assign(strategy=result["model"], seed=result["seed"], threshold=threshold, probability=pneumonia)
    return rows[study_prediction_columns(classes)]
