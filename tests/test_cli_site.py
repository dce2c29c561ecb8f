"""The site commands: evaluate (report files, MLflow run naming the model) and recalibrate (a new
package, refusals), with the exit codes and messages of bad input."""

import hashlib
import json

import mlflow
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.inference import Predictor
from tests.conftest import create_project
from tests.evaluation.site_data import gray_predictor, make_site


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throwaway project (conf/base copied), so MLflow's SQLite store lands in it."""
    folder = create_project(tmp_path / "project", {})
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def package(tmp_path):
    gray_predictor().save(tmp_path / "base")
    return tmp_path / "base"


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def hashes(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


def test_evaluate_writes_the_report_prints_it_and_logs_a_run_naming_the_model(project, package, tmp_path):
    result = invoke("evaluate", make_site(tmp_path / "site"), "--model", package, "--output", tmp_path / "out",
                    "--mlflow", "--project-path", project)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# Evaluation of {package}")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["n_images"] == 11 and report["sensitivity"] == 0.5
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    (run,) = MlflowClient().search_runs([MlflowClient().get_experiment_by_name("pediatric_pneumonia").experiment_id])
    assert run.data.tags["model_uri"] == str(package) and run.data.tags["pediatric_pneumonia.kind"] == "evaluation"
    assert run.data.metrics["site.sensitivity"] == 0.5


def test_a_package_folder_is_evaluated_and_recalibrated_from_any_directory(package, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no conf/base here

    evaluated = invoke("evaluate", make_site(tmp_path / "site"), "--model", package, "--output", tmp_path / "out")
    recalibrated = invoke("recalibrate", tmp_path / "site", "--model", package, "--output", tmp_path / "new")
    with_env = invoke("evaluate", tmp_path / "site", "--model", package, "--output", tmp_path / "out2", "--env", "demo")

    assert evaluated.exit_code == 0, evaluated.output
    assert f"No project in '{elsewhere}': using the default parameters that ship with the package." in evaluated.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["n_images"] == 11
    assert recalibrated.exit_code == 0 and Predictor.from_package(tmp_path / "new").config["provenance"]["site"]["n_images"] == 11
    assert with_env.exit_code == 2 and "--env demo needs a project" in with_env.stderr


def test_evaluate_logs_its_own_run_even_with_a_notebook_run_active(project, package, tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    mlflow.set_experiment("a notebook's experiment")
    with mlflow.start_run() as outer:
        result = invoke("evaluate", make_site(tmp_path / "site"), "--model", package, "--output", tmp_path / "out",
                        "--mlflow", "--project-path", project)
        assert mlflow.active_run().info.run_id == outer.info.run_id

    assert result.exit_code == 0, result.output
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("pediatric_pneumonia").experiment_id])
    assert run.info.run_id != outer.info.run_id and run.info.status == "FINISHED"
    assert run.data.tags["model_uri"] == str(package) and run.data.metrics["site.sensitivity"] == 0.5
    assert not client.get_run(outer.info.run_id).data.metrics


def test_evaluate_on_a_folder_without_the_class_layout_exits_2_with_what_to_give(package, tmp_path):
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "a.png").write_bytes(b"x")

    result = invoke("evaluate", tmp_path / "scans", "--model", package, "--output", tmp_path / "out")

    assert result.exit_code == 2
    assert "has no class folders: it holds 1 files and 0 other folders directly. Give a folder with NORMAL/ and PNEUMONIA/ subfolders" in result.stderr
    assert "Traceback" not in result.output


def test_evaluate_lists_csv_rows_left_out_and_exits_1(package, tmp_path):
    site = make_site(tmp_path / "site")
    (site / "labels.csv").write_text("path,label\nNORMAL/IM-0001-0001.png,NORMAL\nPNEUMONIA/person1_bacteria_1.png,PNEUMONIA\nx.png,COVID\n")

    result = invoke("evaluate", site / "labels.csv", "--model", package, "--output", tmp_path / "out")

    assert result.exit_code == 1, result.output
    assert "Left out: line 4: unknown label 'COVID'" in result.stderr and "2 images (1 NORMAL, 1 PNEUMONIA)" in result.stdout


@pytest.mark.parametrize("command", ["evaluate", "recalibrate"])
def test_a_site_of_only_unreadable_files_exits_2_with_the_reason(command, package, tmp_path):
    (tmp_path / "site" / "NORMAL").mkdir(parents=True)
    (tmp_path / "site" / "NORMAL" / "notes.jpeg").write_text("not an image")

    result = invoke(command, tmp_path / "site", "--model", package, "--output", tmp_path / "out")

    assert result.exit_code == 2
    assert "None of the 1 files could be read as an image" in result.stderr and "notes.jpeg" in result.stderr
    assert "Traceback" not in result.output


def test_recalibrate_writes_a_new_package_and_refuses_to_overwrite_one(package, tmp_path):
    before = hashes(package)
    site = make_site(tmp_path / "site")

    result = invoke("recalibrate", site, "--model", package, "--output", tmp_path / "new", "--site", "clinic-a")

    assert result.exit_code == 0, result.output
    new = Predictor.from_package(tmp_path / "new")
    assert f"threshold 0.500 -> {new.threshold:.3f} (youden)" in result.stdout and "sensitivity 1.000 (1.000-1.000)" in result.stdout
    assert new.config["provenance"]["site"]["name"] == "clinic-a"
    assert hashes(package) == before
    few = "recalibrated on 11 labelled images, fewer than site.min_images = 100 (site.few_labels: shrink)"
    assert f"Caution (recorded in the package; every prediction with it repeats it): {few}." in result.stderr
    predicted = invoke("predict", site / "NORMAL", "--model", tmp_path / "new")
    assert predicted.exit_code == 0 and f"Caution, from the model's recalibration: {few}." in predicted.stderr
    again = invoke("recalibrate", site, "--model", package, "--output", package)
    assert again.exit_code == 2 and "is not empty: a new package goes into a new or empty folder" in again.stderr
    assert hashes(package) == before


def test_recalibrate_never_writes_where_the_project_looks_up_its_models(project, package, tmp_path):
    """A package at the root of a strategy's versioned folder would hide every version Kedro writes
    from `--model <strategy>`: refused, with where to write instead, before the model loads."""
    site = make_site(tmp_path / "site")
    versioned = project / "data/06_models/baseline/predictor"

    for output in (versioned, project / "data/06_models/recalibrated"):
        refused = invoke("recalibrate", site, "--model", package, "--output", output, "--project-path", project)
        assert refused.exit_code == 2, refused.output
        assert "where this project looks up its trained models" in refused.stderr
        assert "--output recalibrated/<site>" in refused.stderr
    assert not (project / "data").exists()

    inside = invoke("recalibrate", site, "--model", package, "--output", package / "site-a")
    assert inside.exit_code == 2 and f"is inside the predictor package '{package.resolve()}'" in inside.stderr
    assert not (package / "site-a").exists()


def test_a_package_at_the_root_of_a_versioned_folder_is_refused_as_ambiguous(package, tmp_path):
    versioned = tmp_path / "predictor"
    gray_predictor().save(versioned / "2026-12-06T08.00.00.000Z" / "predictor")
    assert Predictor.load(versioned).name.endswith("2026-12-06T08.00.00.000Z/predictor")
    gray_predictor().save(versioned)

    result = invoke("predict", make_site(tmp_path / "site") / "NORMAL", "--model", versioned)

    assert result.exit_code == 2, result.output
    assert "holds a predictor package at its root and 1 versioned package(s) under it" in result.stderr


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--method", "median"], 2, "Unknown threshold.method 'median': use one of ('youden', 'fixed', 'sensitivity_target')"),
        (["--register"], 2, "--register needs --site NAME"),
    ],
)
def test_recalibrate_refuses_bad_options_before_loading_the_model(tmp_path, extra, code, message):
    (tmp_path / "site").mkdir()
    result = invoke("recalibrate", tmp_path / "site", "--model", tmp_path / "none", "--output", tmp_path / "new", *extra)

    assert result.exit_code == code and message in result.stderr


@pytest.mark.parametrize("command", ["evaluate", "recalibrate"])
def test_a_missing_folder_is_named_before_the_model_loads(tmp_path, command):
    result = invoke(command, tmp_path / "nowhere", "--model", tmp_path / "no model", "--output", tmp_path / "out")

    assert result.exit_code == 2 and f"Path '{tmp_path / 'nowhere'}' does not exist" in result.stderr
    assert "Model:" not in result.output


def test_class_folders_and_csv_labels_match_in_any_case_and_an_empty_class_folder_is_said(tmp_path):
    site = make_site(tmp_path / "site")
    (site / "NORMAL").rename(site / "normal")
    (site / "PNEUMONIA").rename(site / "Pneumonia")
    for image in (site / "Pneumonia").iterdir():
        image.unlink()

    found = labelled_files(site, ["NORMAL", "PNEUMONIA"])
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\n" + "".join(f"{path},normal\n" for path in found.files["path"]))

    assert set(found.files["label"]) == {"NORMAL"} and len(found.files) > 0
    assert found.problems == ["the Pneumonia/ folder holds no image files: the set holds no PNEUMONIA images"]
    assert set(labelled_files(csv, ["NORMAL", "PNEUMONIA"]).files["label"]) == {"NORMAL"}


def test_recalibrate_refuses_a_one_class_site(package, tmp_path):
    result = invoke("recalibrate", make_site(tmp_path / "site", normal=[]), "--model", package, "--output", tmp_path / "new")

    assert result.exit_code == 1 and "one class only" in result.stderr and not (tmp_path / "new").exists()
