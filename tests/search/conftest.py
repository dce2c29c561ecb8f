"""A tiny separable problem and search parameters small enough for seconds per trial."""

import copy
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from pediatric_pneumonia.parameters import Preprocessing, Search, Training, check_parameters
from tests.conftest import ONLINE_AUGMENTATION, PAPER_ARCHITECTURE, preprocessing_parameters, training_parameters

REPO_ROOT = Path(__file__).resolve().parents[2]


def image_set(count: int, seed: int) -> dict:
    """16x16 images, PNEUMONIA (1) brighter than NORMAL (0), so a small CNN separates them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = rng.integers(0, 120, size=(count, 16, 16)) + labels[:, None, None] * 100
    return {
        "images": images.astype(np.uint8),
        "labels": labels.astype(np.int64),
        "paths": np.array([f"image_{index}.png" for index in range(count)]),
    }


def checked(search: dict) -> Search:
    """``search`` as the search nodes receive it from Kedro: validated, defaults filled."""
    return check_parameters("search", search)


@pytest.fixture
def paper_search() -> dict:
    return yaml.safe_load((REPO_ROOT / "conf/base/parameters_search.yml").read_text())["search"]


@pytest.fixture
def two_trial_search(paper_search, tmp_path) -> dict:
    search = copy.deepcopy(paper_search)
    search.update(
        space={"conv_filters": [[4]], "dense_units": [[], [8]], "dropout_rates": [[0.2]], "batch_norm": [False]},
        epochs=2,
        images_per_epoch=32,
        storage_path=str(tmp_path / "ray_results"),
    )
    search["ray"].update(num_cpus=2, cpus_per_trial=1)
    return search


@pytest.fixture
def training() -> Training:
    return training_parameters(
        batch_size=16,
        learning_rate_schedule="cosine",
        augmentation={**ONLINE_AUGMENTATION, "enabled": False},
        architecture={**PAPER_ARCHITECTURE, "learning_rate": 0.01},
    )


@pytest.fixture
def preprocessing() -> Preprocessing:
    return preprocessing_parameters(intensity={"method": "none"})


@pytest.fixture
def data() -> tuple[dict, dict]:
    return image_set(48, seed=0), image_set(16, seed=1)


@pytest.fixture
def parent_run(tmp_path, monkeypatch):
    """An active MLflow run in a throwaway SQLite store, as kedro-mlflow opens one."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    # set_experiment exports MLFLOW_EXPERIMENT_ID for subprocesses: monkeypatch restores it after.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    experiment = mlflow.set_experiment("search_test")
    with mlflow.start_run() as run:
        yield run
    mlflow.set_tracking_uri(previous)
    del experiment


def child_runs(parent) -> list:
    client = mlflow.MlflowClient()
    return client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
