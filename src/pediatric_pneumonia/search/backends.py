"""The two ways to run the trials: a plain loop in this process, or Ray Tune (this machine or the
cluster at ``RAY_ADDRESS``) with ASHA stopping hopeless trials and resumable experiments.

Both return one row per trial (``trial_row``) and log every trial as an MLflow child run."""

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

import mlflow

from ..parameters import RaySettings, Search
from ..ray_cluster import CLUSTER_PY_MODULES, check_ray_address_answers
from .trial import TrialTracking, run_trial

logger = logging.getLogger(__name__)


def trial_name(index: int) -> str:
    return f"trial_{index:03d}"


def trial_row(index: int, architecture: dict, curve: list[dict], metric: str, mode: str, epochs: int, error: str | None) -> dict:
    """One line of the results table: the architecture, its best validation ``metric`` over the
    epochs it ran (the epoch training would keep), and whether it ran to the end."""
    values = [signals[metric] for signals in curve if metric in signals]
    best = (max if mode == "max" else min)(range(len(values)), key=values.__getitem__) if values else None
    if error is not None:
        status = "error"
    else:
        status = "completed" if len(curve) >= epochs else "stopped_early"
    return {
        "trial": trial_name(index),
        "conv_filters": json.dumps(architecture["conv_filters"]),
        "dense_units": json.dumps(architecture["dense_units"]),
        "dropout_rates": json.dumps(architecture["dropout_rates"]),
        "batch_norm": architecture["batch_norm"],
        metric: values[best] if values else float("nan"),
        "best_epoch": best + 1 if values else 0,
        "epochs_run": len(curve),
        "status": status,
        "error": error or "",
    }


def search_sequential(
    architectures: list[dict], train_set: dict, validation_set: dict, settings: dict, search: Search,
    tracking: TrialTracking | None,
) -> list[dict]:
    """Every trial to the end, one after another in this process (no early stopping)."""
    rows = []
    for index, architecture in enumerate(architectures):
        curve: list[dict] = []
        error = None
        try:
            run_trial(
                architecture, train_set, validation_set, settings,
                report=lambda epoch, signals, curve=curve: curve.append(signals),
                tracking=tracking, run_name=trial_name(index),
            )
        except Exception as failure:  # one broken configuration must not lose the others' results
            logger.exception("Search %s failed.", trial_name(index))
            error = f"{type(failure).__name__}: {failure}"
        rows.append(trial_row(index, architecture, curve, search.metric, search.mode, settings["training"]["epochs"], error))
        logger.info("Search %s/%d: %s", index + 1, len(architectures), rows[-1])
    return rows


def experiment_name(search: Search, architectures: list[dict], settings: dict, train_set: dict) -> str:
    """``search.ray.experiment`` plus a fingerprint of what the trials compute (grid, settings,
    training data), so a rerun of the same search resumes its experiment and a changed one starts
    afresh instead of mixing results."""
    fingerprint = hashlib.sha1(
        json.dumps(
            [architectures, settings, search.metric, search.ray.asha.plain(), train_set["labels"].tolist(),
             list(train_set["images"].shape)],
            sort_keys=True, default=str,
        ).encode()
    ).hexdigest()[:10]
    return f"{search.ray.experiment}_{fingerprint}"


@contextlib.contextmanager
def ray_session(ray_settings: RaySettings):
    """Ray, connected: to the cluster at ``RAY_ADDRESS`` when it is set (checked to answer within
    ``connect_timeout_s``; the package ships to the workers), else a local instance of ``num_cpus``
    (null: all cores). An instance that was already running is kept running afterwards."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = os.environ.get("RAY_ADDRESS") or None
    if address:
        check_ray_address_answers(address, ray_settings.connect_timeout_s)
        try:
            ray.init(address=address, runtime_env={"py_modules": list(CLUSTER_PY_MODULES)})
        except Exception as error:
            raise ConnectionError(
                f"RAY_ADDRESS is '{address}' but Ray could not connect to it ({error}). Fix the address or unset "
                "RAY_ADDRESS to run on this machine."
            ) from error
    else:
        ray.init(num_cpus=ray_settings.num_cpus, include_dashboard=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def _ray_trial(config: dict, train_set: dict, validation_set: dict, settings: dict, tracking, threads: int) -> None:
    import tensorflow as tf
    from ray import tune

    # TensorFlow would otherwise use every core in each of the concurrent trials.
    with contextlib.suppress(RuntimeError):
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    trial = config["trial"]
    run_trial(
        trial["architecture"], train_set, validation_set, settings,
        report=lambda epoch, signals: tune.report({**signals, "epoch": epoch}),
        tracking=tracking, run_name=trial_name(trial["index"]),
    )


def search_ray(
    architectures: list[dict], train_set: dict, validation_set: dict, settings: dict, search: Search,
    tracking: TrialTracking | None,
) -> list[dict]:
    """The trials on Ray Tune: a grid over ``architectures`` with ASHA (on ``search.metric``,
    epochs as time) stopping the worst, ``ray.cpus_per_trial`` cores each. The experiment lives under
    ``search.storage_path``: a rerun of an interrupted search restores it, finished trials are kept
    and errored ones rerun."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    ray_settings = search.ray
    storage = Path(search.storage_path).resolve()
    name = experiment_name(search, architectures, settings, train_set)
    cpus = ray_settings.cpus_per_trial
    trainable = tune.with_resources(
        tune.with_parameters(
            _ray_trial, train_set=train_set, validation_set=validation_set, settings=settings, tracking=tracking,
            threads=max(1, int(cpus)),
        ),
        {"cpu": cpus},
    )
    with ray_session(ray_settings):
        if tune.Tuner.can_restore(storage / name):
            logger.info("Resuming the search experiment %s.", storage / name)
            tuner = tune.Tuner.restore(str(storage / name), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={
                    "trial": tune.grid_search(
                        [{"index": index, "architecture": architecture} for index, architecture in enumerate(architectures)]
                    )
                },
                tune_config=tune.TuneConfig(
                    metric=search.metric,
                    mode=search.mode,
                    scheduler=ASHAScheduler(
                        time_attr="training_iteration",
                        max_t=settings["training"]["epochs"],
                        grace_period=ray_settings.asha.grace_period,
                        reduction_factor=ray_settings.asha.reduction_factor,
                    ),
                ),
                run_config=tune.RunConfig(storage_path=str(storage), name=name, verbose=0),
            )
        results = tuner.fit()
    if tracking is not None:
        close_stopped_runs(tracking)
    rows = []
    for result in results:
        trial = result.config["trial"]
        frame = result.metrics_dataframe
        curve = [] if frame is None else frame.to_dict("records")
        error = None if result.error is None else f"{type(result.error).__name__}: {result.error}"
        rows.append(trial_row(trial["index"], trial["architecture"], curve, search.metric, search.mode,
                              settings["training"]["epochs"], error))
    return sorted(rows, key=lambda row: row["trial"])


def close_stopped_runs(tracking: TrialTracking) -> None:
    """Mark KILLED the child runs of trials that ASHA stopped: Ray ends them inside their report
    call, so they never close their MLflow run themselves."""
    client = mlflow.MlflowClient(tracking.tracking_uri)
    for run in client.search_runs(
        [tracking.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{tracking.parent_run_id}' and attributes.status = 'RUNNING'",
    ):
        client.set_terminated(run.info.run_id, "KILLED")
