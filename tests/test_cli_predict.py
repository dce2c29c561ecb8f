"""The model commands: predict on files and folders with planted junk, serve, export; exit codes."""

import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.imaging.decode import DecodeLimits
from pediatric_pneumonia.webapp.app import AddressInUseError, ServeLimits, is_loopback
from tests.conftest import create_project
from tests.inference.conftest import make_predictor

TENSORFLOW_NOISE = ("oneDNN", "cuInit", "cuda drivers", "absl::InitializeLog", "cpu_feature_guard")
# The console script `pip install` put beside this Python, as a user runs it.
INSTALLED_COMMAND = Path(sys.executable).with_name("pediatric-pneumonia")


@pytest.fixture(scope="module")
def predictor():
    return make_predictor()


@pytest.fixture(scope="module")
def package(tmp_path_factory, predictor):
    folder = tmp_path_factory.mktemp("model") / "predictor"
    predictor.save(folder)
    return folder


def xray(seed: int, shape=(48, 40)) -> np.ndarray:
    """A grayscale image with some structure (a bright blob on noise), different per seed."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 80, shape, dtype=np.uint8)
    cv2.circle(image, (int(rng.integers(10, 30)), int(rng.integers(10, 38))), 9, 230, -1)
    return image


@pytest.fixture
def good_folder(tmp_path):
    """Readable images in nested folders, one PNG without a suffix, and a hidden file to skip."""
    folder = tmp_path / "scans"
    (folder / "child" / "deeper").mkdir(parents=True)
    cv2.imwrite(str(folder / "first.jpeg"), xray(1))
    cv2.imwrite(str(folder / "child" / "second.png"), xray(2))
    (folder / "child" / "deeper" / "third").write_bytes(cv2.imencode(".png", xray(3))[1].tobytes())
    (folder / ".DS_Store").write_bytes(b"Bud1")
    (folder / ".cache").mkdir()
    cv2.imwrite(str(folder / ".cache" / "hidden.jpeg"), xray(4))
    return folder


@pytest.fixture
def folder_with_junk(good_folder):
    jpeg = cv2.imencode(".jpeg", xray(5))[1].tobytes()
    (good_folder / "empty.jpeg").write_bytes(b"")
    (good_folder / "child" / "notes.jpeg").write_text("radiologist's notes, not an image\n")
    (good_folder / "child" / "truncated.jpeg").write_bytes(jpeg[: len(jpeg) // 2])
    return good_folder


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_predictions_on_a_folder_match_the_predictor_and_junk_is_listed_with_its_reason(folder_with_junk, package, predictor):
    result = invoke("predict", folder_with_junk, "--model", package, "--format", "json")

    assert result.exit_code == 1, result.output
    rows = {row["source"]: row for row in json.loads(result.stdout)}
    good = ["first.jpeg", "child/second.png", "child/deeper/third"]
    junk = ["empty.jpeg", "child/notes.jpeg", "child/truncated.jpeg"]
    assert sorted(rows) == sorted(str(folder_with_junk / name) for name in good + junk)
    for name in good:
        row, expected = rows[str(folder_with_junk / name)], predictor.predict(folder_with_junk / name)
        assert row["error"] is None
        assert row["label"] == expected.label
        assert row["probability"] == pytest.approx(expected.probability, abs=1e-6)
        assert row["threshold"] == expected.threshold
    for name in junk:
        row = rows[str(folder_with_junk / name)]
        assert row["label"] is None and row["probability"] is None
        assert name.split("/")[-1] in row["error"]
    assert "3 of 6 files could not be read" in result.stderr


def test_all_readable_files_exit_0_with_a_table(good_folder, package):
    result = invoke("predict", good_folder / "first.jpeg", good_folder / "child", "--model", package)

    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["source", "label", "probability", "threshold"]
    assert [line.split()[0] for line in lines] == [
        str(good_folder / "first.jpeg"),
        str(good_folder / "child" / "deeper" / "third"),
        str(good_folder / "child" / "second.png"),
    ]
    assert all(line.split()[1] in ("NORMAL", "PNEUMONIA") for line in lines)
    assert "could not be read" not in result.stderr


def test_csv_output_parses_and_a_missing_file_is_a_failed_row(good_folder, package, predictor):
    missing = good_folder / "not-there.jpeg"
    result = invoke("predict", good_folder / "first.jpeg", missing, "--model", package, "--format", "csv")

    assert result.exit_code == 1, result.output
    first, absent = csv.DictReader(io.StringIO(result.stdout))
    assert float(first["probability"]) == pytest.approx(predictor.predict(good_folder / "first.jpeg").probability, abs=1e-4)
    assert first["error"] == ""
    assert absent["source"] == str(missing) and "No such file" in absent["error"]
    assert "1 of 2 files could not be read" in result.stderr


def test_no_input_exits_2_and_names_the_path(tmp_path, package):
    (tmp_path / "empty").mkdir()

    missing = invoke("predict", tmp_path / "nowhere", "--model", package)
    empty = invoke("predict", tmp_path / "empty", "--model", package)

    assert missing.exit_code == 2 and f"'{tmp_path / 'nowhere'}' does not exist" in missing.stderr
    assert empty.exit_code == 2 and "holds no files" in empty.stderr


def test_a_model_folder_that_does_not_exist_exits_2_and_names_it(good_folder, tmp_path):
    result = invoke("predict", good_folder, "--model", tmp_path / "no-such-model", "--project-path", tmp_path)

    assert result.exit_code == 2
    assert str(tmp_path / "no-such-model") in result.stderr


def test_a_package_whose_classifier_is_not_a_model_is_a_clear_error(good_folder, tmp_path, package):
    fake = tmp_path / "fake-package"
    fake.mkdir()
    (fake / "predictor.json").write_text((package / "predictor.json").read_text())
    (fake / "classifier.keras").write_text("not a zip archive")

    result = invoke("predict", good_folder, "--model", fake)

    assert result.exit_code == 2
    assert f"'{fake / 'classifier.keras'}' could not be loaded as a Keras model" in result.stderr


def test_serve_loads_the_model_and_hands_it_to_the_web_app(package, monkeypatch):
    calls = []
    webapp = types.ModuleType("pediatric_pneumonia.webapp")
    webapp.run_server = lambda predictor, **options: calls.append((predictor, options))
    webapp.AddressInUseError = AddressInUseError
    webapp.ServeLimits = ServeLimits
    monkeypatch.setitem(sys.modules, "pediatric_pneumonia.webapp", webapp)
    monkeypatch.setenv("PEDIATRIC_PNEUMONIA_TOKEN", "token-from-the-environment")

    result = invoke("serve", "--model", package, "--port", "8123", "--max-upload-mb", "1.5", "--max-decoded-mb", "50",
                    "--concurrent", "3", "--waiting", "4")
    short = invoke("serve", "--model", package, "--token", "short")

    assert result.exit_code == 0, result.output
    [(predictor, options)] = calls
    assert predictor.name == str(package)
    limits = ServeLimits(int(1.5 * 2**20), DecodeLimits(max_decoded_bytes=50_000_000), concurrent=3, waiting=4)
    assert options == {"host": "127.0.0.1", "port": 8123, "limits": limits, "allowed_hosts": (), "token": "token-from-the-environment"}
    assert short.exit_code == 2 and "a token needs at least 16 characters" in short.stderr


def test_serve_on_a_taken_port_says_so_before_announcing_anything(package):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = invoke("serve", "--model", package, "--port", str(port))

    assert result.exit_code == 1
    assert f"Cannot serve at 127.0.0.1:{port}" in result.output and "Choose another --port" in result.output
    assert "Serving" not in result.output


@pytest.mark.parametrize(
    ("host", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
                           ("0.0.0.0", False), ("192.168.1.20", False), ("::", False), ("myhost.example", False)]
)
def test_only_loopback_addresses_count_as_closed(host, loopback):
    assert is_loopback(host) is loopback


def test_export_writes_the_tflite_model_and_its_settings(package, tmp_path):
    output = tmp_path / "mobile" / "pneumonia.tflite"

    result = invoke("export", "--format", "tflite", "--model", package, "--output", output)

    assert result.exit_code == 0, result.output
    assert output.stat().st_size > 0
    assert json.loads((output.parent / "predictor.json").read_text())["tflite"]["model_file"] == "pneumonia.tflite"
    assert str(output) in result.stdout


def test_export_never_writes_into_a_package_or_over_an_earlier_export(package, tmp_path):
    first = invoke("export", "--format", "tflite", "--model", package, "--output", tmp_path / "mobile" / "a.tflite")
    assert first.exit_code == 0, first.output

    again = invoke("export", "--format", "tflite", "--model", package, "--output", tmp_path / "mobile" / "b.tflite")
    into_package = invoke("export", "--format", "tflite", "--model", package, "--output", package / "model.tflite")

    assert again.exit_code == 2 and "is not empty: a new package goes into a new or empty folder" in again.stderr
    assert into_package.exit_code == 2 and "is not empty" in into_package.stderr
    assert not (tmp_path / "mobile" / "b.tflite").exists() and not (package / "model.tflite").exists()


@pytest.mark.parametrize("command", ["predict", "serve", "export"])
def test_each_model_command_has_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "--model" in result.output and "--project-path" in result.output


def test_the_command_line_starts_without_importing_tensorflow():
    code = "import sys; from pediatric_pneumonia.cli import cli; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def test_the_installed_command_predicts_without_tensorflow_start_up_noise(good_folder, package):
    result = subprocess.run(
        [INSTALLED_COMMAND, "predict", good_folder, "--model", package, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 3
    assert not [noise for noise in TENSORFLOW_NOISE if noise in result.stderr], result.stderr


def test_the_installed_command_writes_only_the_predictions_to_stdout_outside_the_project(tmp_path, good_folder, package):
    """The model is found by its strategy's name in a project elsewhere, which starts Kedro away from
    the project's conf/logging.yml: Kedro's own logging set-up then writes to stdout."""
    project = create_project(tmp_path / "project", {})
    shutil.copytree(package, project / "data" / "06_models" / "baseline" / "predictor" / "2026-01-01T00.00.00.000Z" / "predictor")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = subprocess.run(
        [INSTALLED_COMMAND, "predict", good_folder, "--model", "baseline", "--project-path", project, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=elsewhere,
    )

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 3
