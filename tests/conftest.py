"""Shared fixtures: tiny generated datasets with planted bad files, and throwaway Kedro projects."""

import os
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from pediatric_pneumonia.demo_data import generate_demo_dataset
from pediatric_pneumonia.parameters import Preprocessing, Study, Training, check_parameters
from pediatric_pneumonia.project_config import load_project_config

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "chest_xray_dev"
CLASSES = ["NORMAL", "PNEUMONIA"]
SPLITS = ["train", "val", "test"]

TINY_COUNTS = {
    "train": {"NORMAL": 16, "PNEUMONIA": 40},
    "val": {"NORMAL": 2, "PNEUMONIA": 2},
    "test": {"NORMAL": 8, "PNEUMONIA": 12},
}

PAPER_ARCHITECTURE = {
    "conv_filters": [32, 64],
    "kernel_size": 3,
    "pool_size": 2,
    "batch_norm": True,
    "batch_norm_momentum": 0.9,
    "dense_units": [],
    "dropout_rates": [],
    "learning_rate": 0.001,
}

ONLINE_AUGMENTATION = {
    "enabled": True,
    "rotation_range": 10,
    "width_shift_range": 0.05,
    "height_shift_range": 0.05,
    "shear_range": 0.0,
    "zoom_range": 0.1,
    "brightness": 0.1,
    "contrast": 0.25,
    "gamma": 0.3,
    "blur_sigma": 1.0,
    "noise_std": 0.02,
    "sharpen": 0.0,
    "marker_rate": 0.0,
}

# Small enough for seconds per run, real enough to go through every node.
TEST_PARAMETERS = {
    "ingestion": {"workers": 2, "patient_key": "person_and_subtype"},
    "split": {"validation_fraction": 0.25},
    "preprocessing": {"image_size": 32, "workers": 2},
    # one network: the pipeline tests that want teachers and a student ask for them
    "training": {"epochs": 1, "batch_size": 16, "images_per_epoch": None, "ensemble": {"members": 1, "distill": False}},
    "synthesis": {
        "profiles": {
            "cpu": {
                "image_size": 16,
                "batch_size": 8,
                "iterations": 20,
                "log_every": 10,
                "checkpoint_every": 10,
                "generator": {"base_filters": 16, "filters": [16, 8], "strides": [2, 2], "kernel_size": 3, "learning_rate": 0.001},
                "discriminator": {"filters": [8, 16], "strides": [2, 2], "kernel_size": 3, "dropout": 0.2, "learning_rate": 0.001},
            }
        }
    },
    "synthesis_report": {"max_images": 50, "closest_pairs": 4, "grid_images": 8},
}


def training_parameters(**changes) -> Training:
    """The shipped ``training`` group (conf/base) with ``changes`` to its top-level keys, validated:
    what a node typed with ``Training`` receives from Kedro."""
    shipped = yaml.safe_load((REPO_ROOT / "conf/base/parameters_training.yml").read_text())["training"]
    return check_parameters("training", {**shipped, **changes})


def preprocessing_parameters(**changes) -> Preprocessing:
    """The shipped ``preprocessing`` group (conf/base) with ``changes`` (those of ``intensity`` merged
    into the shipped intensity), validated: what a node typed with ``Preprocessing`` receives."""
    shipped = yaml.safe_load((REPO_ROOT / "conf/base/parameters_preprocessing.yml").read_text())["preprocessing"]
    intensity = {**shipped["intensity"], **changes.pop("intensity", {})}
    return check_parameters("preprocessing", {**shipped, **changes, "intensity": intensity})


def study_parameters(**changes) -> Study:
    """The shipped ``study`` group (conf/base) with ``changes``, validated."""
    shipped = yaml.safe_load((REPO_ROOT / "conf/base/parameters_study.yml").read_text())["study"]
    return check_parameters("study", {**shipped, **changes})


def random_image_set(normal: int, pneumonia: int, size: int) -> dict:
    """An image set (the schema of train_set) of random uint8 images, NORMAL first."""
    rng = np.random.default_rng(0)
    labels = np.array([0] * normal + [1] * pneumonia, dtype=np.uint8)
    return {
        "images": rng.integers(0, 256, (len(labels), size, size), dtype=np.uint8),
        "labels": labels,
        "paths": np.array([f"/raw/{index}.jpeg" for index in range(len(labels))]),
    }


def make_raw_dataset(root: Path, counts: dict = TINY_COUNTS, image_size: int = 64) -> Path:
    """Generate synthetic images in the public layout under ``root``."""
    generate_demo_dataset(root, {"seed": 3, "image_size": image_size, "counts": counts}, CLASSES)
    return root


def plant_bad_files(folder: Path) -> dict[str, str]:
    """Write the usual junk into ``folder``; return file name -> expected start of the reason."""
    valid_jpeg = next(folder.glob("*.jpeg")).read_bytes()
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (folder / "truncated.jpeg").write_bytes(valid_jpeg[: len(valid_jpeg) // 2])
    (folder / "empty.jpeg").write_bytes(b"")
    (folder / "notes.jpeg").write_text("radiologist notes, not an image\n")
    return {
        ".DS_Store": "not a JPEG or PNG image",
        "truncated.jpeg": "truncated JPEG",
        "empty.jpeg": "empty file",
        "notes.jpeg": "not a JPEG or PNG image",
    }


MLFLOW_PROCESS_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")


@pytest.fixture(autouse=True)
def leave_mlflow_as_found():
    """MLflow keeps process state: the active run, the tracking URI and experiment of the last
    ``set_tracking_uri`` / ``set_experiment`` (a test's, or kedro-mlflow's), also in environment
    variables that the commands honour first. Each test leaves none behind, so no
    later test logs into a store of an earlier one."""
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    # set_experiment's choice outlives the store it names, in a module global with no public reset:
    # the next test's fresh store has no such experiment ("No Experiment with id=2 exists").
    mlflow.tracking.fluent._active_experiment_id = None
    for name in MLFLOW_PROCESS_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking store in ``tmp_path`` (the working directory), as conf/base/mlflow.yml
    configures one; ``leave_mlflow_as_found`` forgets it after the test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def raw_dataset(tmp_path: Path) -> Path:
    return make_raw_dataset(tmp_path / "raw" / "chest_xray")


def create_project(folder: Path, parameters: dict) -> Path:
    """Copy this project's base configuration into ``folder``, with ``parameters`` as env ``test``.

    The ``test`` environment is merged over conf/base, parameter by parameter, and names the
    project's tracking store by its absolute path.
    """
    shutil.copytree(REPO_ROOT / "conf" / "base", folder / "conf" / "base")
    (folder / "conf" / "local").mkdir(parents=True)
    (folder / "conf" / "test").mkdir(parents=True)
    (folder / "conf" / "test" / "parameters.yml").write_text(yaml.safe_dump(parameters))
    # The store of conf/base (sqlite:///mlflow.db, relative), made absolute: MLflow keeps one
    # database engine per URI string for the life of the process, so a relative URI would stay
    # bound to the first project's folder when a test process builds many.
    tracking = {"server": {"mlflow_tracking_uri": f"sqlite:///{folder.resolve() / 'mlflow.db'}"}}
    (folder / "conf" / "test" / "mlflow.yml").write_text(yaml.safe_dump(tracking))
    shutil.copy(REPO_ROOT / "pyproject.toml", folder / "pyproject.toml")
    (folder / "src").mkdir()  # Kedro wants one; the package itself is installed
    return folder


@pytest.fixture
def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A function building a throwaway project (see ``create_project``) and moving into it,
    so MLflow's SQLite store and the data folders land there."""

    def build(parameters: dict) -> Path:
        project = create_project(tmp_path / "project", parameters)
        monkeypatch.chdir(project)
        return project

    return build


def run_pipelines(project: Path, pipeline_names: list[str], runtime_params: dict | None = None, **run_kwargs) -> None:
    """Run ``pipeline_names`` in a real KedroSession of ``project`` with the ``test`` environment
    (and ``runtime_params``, as ``kedro run --params`` gives them)."""
    bootstrap_project(project)
    try:
        with KedroSession.create(project_path=project, env="test", runtime_params=runtime_params) as session:
            session.run(pipeline_names=pipeline_names, **run_kwargs)
    finally:
        # kedro-mlflow re-enters its run per node; a second session in the same process (only
        # tests do that) would otherwise find the first session's run still active and reuse it.
        while mlflow.active_run() is not None:
            mlflow.end_run()


def shipped_catalog(file_name: str) -> dict:
    """The entries of one conf/base catalog file as Kedro reads them (``${globals:...}`` resolved)."""
    resolved = load_project_config(REPO_ROOT, "catalog", "base")
    return {name: resolved[name] for name in yaml.safe_load((REPO_ROOT / "conf" / "base" / file_name).read_text())}


def latest_version(dataset_folder: Path) -> Path:
    """The file of the newest version of a versioned dataset folder."""
    versions = sorted(path for path in dataset_folder.iterdir() if path.is_dir())
    assert versions, f"no version saved under {dataset_folder}"
    return versions[-1] / dataset_folder.name
