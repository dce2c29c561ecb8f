"""The notebooks under notebooks/ run top to bottom on a tiny prepared and trained project, and are
committed without outputs.

The kernel is the ``python3`` spec that ipykernel installs under the venv (sys.prefix/share/jupyter/
kernels); its argv starts with ``python``, which jupyter_client replaces by ``sys.executable``, so the
notebooks run on this interpreter. They read PROJECT_PATH and KEDRO_ENV from the environment, which
the kernel inherits from this process.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.conftest import REPO_ROOT, TEST_PARAMETERS, create_project, make_raw_dataset, plant_bad_files

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXPLORE = REPO_ROOT / "notebooks" / "01_explore_data.ipynb"
COMPARE = REPO_ROOT / "notebooks" / "02_compare_runs.ipynb"
KEDRO = str(Path(sys.executable).parent / "kedro")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    """A tiny project after ``data_preparation`` and ``baseline``, with junk files and one test image
    that is byte-identical to a training image."""
    base = tmp_path_factory.mktemp("notebooks")
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    plant_bad_files(raw / "train" / "NORMAL")
    shutil.copy(next((raw / "train" / "PNEUMONIA").glob("*.jpeg")), raw / "test" / "PNEUMONIA" / "copy_of_train.jpeg")
    project = create_project(base / "project", {**TEST_PARAMETERS, "raw_data": {"root": str(raw)}})
    # A `kedro run` of its own, as a user trains: MLflow state that earlier tests left in this
    # process (active runs, MLFLOW_* variables set by mlflow.set_experiment) cannot redirect it.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_")}
    finished = subprocess.run(
        [KEDRO, "run", "--env", "test", "--pipeline", "baseline"],
        cwd=project,
        env={**environment, "KEDRO_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    return project


def execute(notebook_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch, **environment: str) -> str:
    """Run the notebook in a fresh kernel started in ``project``; return its text outputs, joined."""
    monkeypatch.setenv("PROJECT_PATH", str(project))
    monkeypatch.setenv("KEDRO_ENV", "test")
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    for name in [name for name in os.environ if name.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)  # the project's own store, whatever earlier tests set
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(project)}}
    )
    try:
        client.execute()
    finally:
        outputs = [
            output.get("text") or output.get("data", {}).get("text/plain", "")
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
        ]
    return ANSI_ESCAPE.sub("", "\n".join(outputs))


@pytest.mark.slow
def test_explore_data_shows_balance_patients_rejections_and_leakage(trained_project, monkeypatch):
    text = execute(EXPLORE, trained_project, monkeypatch)

    assert f"Project {trained_project}, environment 'test'" in text  # the kernel got the variables
    assert re.search(r"train\s+16\s+40\s+56", text)  # usable images per public split and class
    assert re.search(r"test\s+8\s+13\s+21", text)
    assert re.search(r"validation\s+\d+\s+\d+", text)  # per subset
    assert "Patient-disjoint" in text
    assert "4 rejected files" in text and "truncated JPEG" in text
    assert "1 images appear in more than one public split" in text and "test + train" in text


@pytest.mark.slow
def test_compare_runs_tabulates_plots_and_lists_the_registered_model(trained_project, monkeypatch):
    text = execute(COMPARE, trained_project, monkeypatch)

    assert f"sqlite:///{trained_project}/mlflow.db" in text
    assert re.search(r"^0\s+baseline\s", text, re.MULTILINE)  # the metrics table has the baseline row
    assert "roc_auc" in text and "specificity" in text
    assert "pediatric_pneumonia_baseline" in text


@pytest.mark.slow
def test_explore_data_names_the_command_when_nothing_was_prepared(tmp_path, monkeypatch):
    project = create_project(tmp_path / "project", TEST_PARAMETERS)

    with pytest.raises(CellExecutionError) as error:
        execute(EXPLORE, project, monkeypatch)

    assert error.value.ename == "FileNotFoundError"
    assert "Run `kedro run --pipeline data_preparation --env test` first" in error.value.evalue


@pytest.mark.slow
def test_compare_runs_names_the_command_when_the_store_is_empty(tmp_path, monkeypatch):
    project = create_project(tmp_path / "project", TEST_PARAMETERS)

    with pytest.raises(CellExecutionError) as error:
        execute(COMPARE, project, monkeypatch, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'empty.db'}")

    assert "run `kedro run --pipeline baseline` first" in error.value.evalue


@pytest.mark.parametrize("notebook_path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    nbformat.validate(notebook)

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells), (
        f"{notebook_path.name} has outputs: clear them (Jupyter: Edit > Clear Outputs of All Cells) before committing"
    )


def test_notebooks_run_on_this_interpreter():
    spec = KernelSpecManager().get_kernel_spec("python3")

    assert spec.argv[0] in {"python", "python3", sys.executable}, (
        f"the python3 kernel runs {spec.argv[0]} from {spec.resource_dir}, not this venv: "
        f"`{sys.executable} -m ipykernel install --sys-prefix`"
    )
