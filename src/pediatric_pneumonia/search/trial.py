"""One trial of the search: build the CNN of one architecture, train it for a few epochs on the
training set and report its validation signals after every epoch (so a scheduler can stop it)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import mlflow

from ..models.classifier_training import fit_classifier
from ..parameters import Ensemble, Preprocessing, Search, Training, check_parameters
from ..tracking import absolute_tracking_uri, history_metric_name

# Called after every epoch with the epoch (from 1) and its validation signals; the Ray backend
# hands Ray Tune the values here, which may end the trial.
Reporter = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrialTracking:
    """Where a trial logs its MLflow child run: a Ray worker has no active run of its own, so the
    store, experiment and parent run are passed in explicitly."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str


def trial_settings(search: Search, training: Training, preprocessing: Preprocessing) -> dict:
    """What every trial shares, as plain values (Ray ships them; the experiment's name hashes them):
    the training parameters with the search's epochs, images per epoch and seed and a single member,
    and the preprocessing's intensity normalisation."""
    trial = training.model_copy(
        update={
            "epochs": search.epochs,
            "images_per_epoch": search.images_per_epoch,
            "seed": search.seed,
            "ensemble": Ensemble(),
        }
    )
    return {"training": trial.as_written(), "intensity": preprocessing.intensity.plain()}


def architecture_params(architecture: dict) -> dict[str, str]:
    """An architecture as flat MLflow parameters (lists as their text)."""
    return {f"architecture.{name}": str(value) for name, value in architecture.items()}


class _ReportEachEpoch(keras.callbacks.Callback):
    def __init__(self, report: Reporter, client: mlflow.MlflowClient | None, run_id: str | None) -> None:
        super().__init__()
        self.report = report
        self.client = client
        self.run_id = run_id

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        signals = {name: float(value) for name, value in (logs or {}).items()}
        if self.run_id is not None:
            # Logged before reporting: a trial that the scheduler stops never returns from report.
            for name, value in signals.items():
                self.client.log_metric(self.run_id, history_metric_name(name), value, step=epoch + 1)
        self.report(epoch + 1, signals)


def run_trial(
    architecture: dict,
    train_set: dict,
    validation_set: dict,
    settings: dict,
    report: Reporter,
    tracking: TrialTracking | None = None,
    run_name: str = "trial",
) -> str | None:
    """Train ``architecture`` with ``settings`` (``trial_settings``: the search's epochs of its
    images per epoch, augmented) and call ``report`` after each epoch with ``val_loss``, ``val_auc``, ``loss``, ...

    With ``tracking``, the trial is an MLflow child run (its architecture as parameters, every
    epoch's signals as metrics); returns that run's id (None without tracking).
    """
    training = check_parameters("training", {**settings["training"], "architecture": architecture})
    client, run_id = None, None
    if tracking is not None:
        client = mlflow.MlflowClient(tracking.tracking_uri)
        run = client.create_run(
            tracking.experiment_id,
            run_name=run_name,
            tags={"mlflow.parentRunId": tracking.parent_run_id, "search.trial": run_name},
        )
        run_id = run.info.run_id
        for name, value in architecture_params(architecture).items():
            client.log_param(run_id, name, value)
        client.log_param(run_id, "search.epochs", training.epochs)
        client.log_param(run_id, "search.images_per_epoch", training.images_per_epoch)
    try:
        fit_classifier(
            train_set, validation_set, training, settings["intensity"], [_ReportEachEpoch(report, client, run_id)], verbose=0
        )
    except Exception:
        if run_id is not None:
            client.set_terminated(run_id, "FAILED")
        raise
    if run_id is not None:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def tracking_from_active_run() -> TrialTracking | None:
    """The active MLflow run (kedro-mlflow's) as the parent of the trials, with its store's URI made
    absolute so Ray workers, which run elsewhere, reach the same store; None without an active run."""
    run = mlflow.active_run()
    if run is None:
        return None
    return TrialTracking(
        tracking_uri=absolute_tracking_uri(mlflow.get_tracking_uri(), Path.cwd()),
        experiment_id=run.info.experiment_id,
        parent_run_id=run.info.run_id,
    )
