"""The MLflow model: logged into a real SQLite store, registered, aliased, loaded and served."""

import base64
import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pediatric_pneumonia.inference import ModelLoadError, load_predictor
from pediatric_pneumonia.inference.mlflow_model import BEST_ALIAS, log_predictor_model
from tests.inference.conftest import make_ensemble_predictor, make_predictor, smooth_images, with_shift_reference
from tests.inference.test_three_class_package import CLASSES, three_class_predictor
from tests.pipelines.reporting.tiny_model import flat_images

NAME = "pediatric_pneumonia_test"


def log_version(auc: float, threshold: float = 0.5):
    """Log and register a predictor whose validation ROC-AUC is ``auc``; returns its run id and it."""
    predictor = make_predictor(threshold=threshold)
    predictor.config["validation"]["roc_auc"] = auc
    with mlflow.start_run() as run:
        log_predictor_model(predictor, NAME, "baseline_model")
    return run.info.run_id, predictor


def png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 256, (8, 8), dtype=np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", image)[1].tobytes()


def test_every_run_is_a_new_version_and_the_best_by_validation_holds_the_alias(tracking):
    first_run, _ = log_version(0.90, threshold=0.1)
    log_version(0.80, threshold=0.2)
    log_version(0.95, threshold=0.3)
    client = MlflowClient()

    versions = sorted(int(version.version) for version in client.search_model_versions(f"name='{NAME}'"))
    best = client.get_model_version_by_alias(NAME, BEST_ALIAS)

    assert versions == [1, 2, 3]
    assert str(best.version) == "3" and best.tags["validation_roc_auc"] == "0.950000"
    assert load_predictor(f"models:/{NAME}@{BEST_ALIAS}").threshold == 0.3
    assert load_predictor(f"models:/{NAME}/2").threshold == 0.2
    assert load_predictor(f"runs:/{first_run}/baseline_model").threshold == 0.1


def test_the_pyfunc_model_takes_raw_image_bytes_or_base64(tracking):
    run_id, predictor = log_version(0.9)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/baseline_model")
    images = [png_bytes(0), png_bytes(1)]

    from_bytes = model.predict(pd.DataFrame({"image": images}))
    from_base64 = model.predict(pd.DataFrame({"image": [base64.b64encode(image).decode() for image in images]}))
    expected = [prediction.probability for prediction in predictor.predict_batch(images)]

    assert list(from_bytes.columns) == ["label", "probability", "threshold", "ood_score", "ood_warning", "error"]
    assert from_bytes["error"].isna().all()  # every image read
    assert from_bytes["ood_score"].isna().all() and from_bytes["ood_warning"].isna().all()  # no shift reference
    np.testing.assert_allclose(from_bytes["probability"], expected, atol=1e-6)
    np.testing.assert_allclose(from_base64["probability"], expected, atol=1e-6)
    assert model.metadata.get_input_schema().input_names() == ["image"]


def test_one_unreadable_image_gets_its_reason_and_never_fails_the_batch(tracking):
    run_id, predictor = log_version(0.9)
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/baseline_model")
    good = png_bytes(0)
    batch = [good, good[: len(good) // 2], b"not an image", base64.b64encode(png_bytes(1)).decode(), "not base64!"]

    answer = model.predict(pd.DataFrame({"image": batch}))

    assert len(answer) == 5
    assert answer["label"].notna().tolist() == [True, False, False, True, False]
    assert answer["probability"][0] == pytest.approx(predictor.predict(good).probability, abs=1e-6)
    assert pd.isna(answer["error"][0]) and pd.isna(answer["error"][3])
    assert "truncated" in answer["error"][1] or "could not be decoded" in answer["error"][1]
    assert "'image 2' is not a JPEG, PNG, BMP, TIFF or DICOM image" in answer["error"][2]
    assert "Row 4 of column 'image' is neither image bytes nor base64 text" in answer["error"][4]
    assert (answer["threshold"] == predictor.threshold).all()
    # a row after an unreadable one is still named by its own row
    shifted = model.predict(pd.DataFrame({"image": ["not base64!", b"not an image"]}))
    assert "'image 1' is not a JPEG, PNG, BMP, TIFF or DICOM image" in shifted["error"][1]
    with pytest.raises(MlflowException, match=r"missing inputs \['image'\]"):  # MLflow's signature check
        model.predict(pd.DataFrame({"picture": [good]}))


def test_the_rest_endpoint_answers_a_mixed_batch_row_by_row(tracking):
    """What `mlflow models serve` runs: its scoring app, called over HTTP with a JSON body."""
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    run_id, _ = log_version(0.9)
    app = scoring_server.init(mlflow.pyfunc.load_model(f"runs:/{run_id}/baseline_model"))
    body = {"dataframe_split": {"columns": ["image"], "data": [[base64.b64encode(png_bytes(0)).decode()], ["AAAA"]]}}

    response = TestClient(app).post("/invocations", json=body)

    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert len(rows) == 2 and rows[0]["label"] in ("NORMAL", "PNEUMONIA") and pd.isna(rows[0].get("error"))
    assert pd.isna(rows[1].get("label")) and "is not a JPEG, PNG, BMP, TIFF or DICOM image" in rows[1]["error"]


def test_a_package_with_a_shift_reference_serves_each_images_ood_score(tracking):
    predictor = with_shift_reference(make_predictor(), smooth_images(30, seed=5))
    with mlflow.start_run() as run:
        log_predictor_model(predictor, NAME, "baseline_model")
    images = [png_bytes(0), png_bytes(1)]

    scored = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/baseline_model").predict(
        pd.DataFrame({"image": images})
    )

    expected = predictor.predict_batch(images)
    np.testing.assert_allclose(scored["ood_score"], [prediction.ood_score for prediction in expected], atol=1e-6)
    assert list(scored["ood_warning"]) == [prediction.ood_warning for prediction in expected]


def test_an_ensemble_with_tta_is_one_logged_model_that_scores_like_its_predictor(tracking):
    predictor = make_ensemble_predictor(2)
    predictor.config["inference"]["tta"] = {
        "transforms": ["shift_left", "zoom_in"],
        "shift_fraction": 0.05,
        "zoom": 0.1,
    }
    with mlflow.start_run() as run:
        log_predictor_model(predictor, NAME, "baseline_model")
    images = [png_bytes(0), png_bytes(1)]

    scored = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/baseline_model").predict(
        pd.DataFrame({"image": images})
    )

    expected = [prediction.probability for prediction in predictor.predict_batch(images)]
    np.testing.assert_allclose(scored["probability"], expected, atol=1e-6)
    assert [int(version.version) for version in MlflowClient().search_model_versions(f"name='{NAME}'")] == [1]


def test_a_three_class_model_answers_each_class_probability(tracking):
    predictor = three_class_predictor()
    with mlflow.start_run() as run:
        log_predictor_model(predictor, None, "subtype_model")
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/subtype_model")
    images = [cv2.imencode(".png", image)[1].tobytes() for image in flat_images([20, 130, 240], size=8)]
    class_columns = [f"probability_{name}" for name in CLASSES]

    answer = model.predict(pd.DataFrame({"image": [*images, b"not an image"]}))

    expected = predictor.predict_batch(images)
    assert list(answer.columns) == [
        "label",
        "probability",
        "threshold",
        "ood_score",
        "ood_warning",
        "error",
        *class_columns,
    ]
    assert model.metadata.get_output_schema().input_names() == list(answer.columns)
    assert answer["label"][:3].tolist() == ["NORMAL", "BACTERIA", "VIRUS"]
    np.testing.assert_allclose(
        answer[class_columns][:3],
        [[prediction.probabilities[name] for name in CLASSES] for prediction in expected],
        atol=1e-6,
    )
    np.testing.assert_allclose(answer[class_columns][:3].sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        answer["probability"][:3], [prediction.probability for prediction in expected], atol=1e-6
    )
    assert (
        answer[class_columns].iloc[3].isna().all()
        and "is not a JPEG, PNG, BMP, TIFF or DICOM image" in answer["error"][3]
    )


def test_an_unknown_model_uri_is_named(tracking):
    with pytest.raises(ModelLoadError, match="models:/nothing@best"):
        load_predictor("models:/nothing@best")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_raw_xrays(tracking, tmp_path):
    log_version(0.9)
    port = free_port()
    mlflow_cli = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    server = subprocess.Popen(
        [
            mlflow_cli,
            "models",
            "serve",
            "-m",
            f"models:/{NAME}@{BEST_ALIAS}",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        # The scoring server is started through `uvicorn` found on PATH: the project's environment.
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    request_body = json.dumps(
        {"dataframe_split": {"columns": ["image"], "data": [[base64.b64encode(png_bytes(2)).decode()]]}}
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow models serve did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", request_body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        server.terminate()
        server.wait(timeout=30)

    expected = make_predictor().predict(png_bytes(2))
    row = answer["predictions"][0]
    assert row["label"] == expected.label
    assert row["probability"] == pytest.approx(expected.probability, abs=1e-6)


def test_the_logged_model_states_its_pinned_requirements(tracking, tmp_path):
    run_id, _ = log_version(0.9)

    requirements = Path(
        mlflow.artifacts.download_artifacts(f"runs:/{run_id}/baseline_model/requirements.txt", dst_path=tmp_path)
    )
    lines = requirements.read_text().split()

    import keras

    assert f"keras=={keras.__version__}" in lines
    assert not any(line.startswith("pediatric-pneumonia") for line in lines)
    assert any(line.startswith(f"{keras.backend.backend()}==") for line in lines)


def model_requirements(model: Path) -> list[str]:
    """The pip requirements of the MLflow model folder ``model``: requirements.txt and conda.yaml's."""
    pip_lines = (model / "requirements.txt").read_text().splitlines()
    conda = yaml.safe_load((model / "conda.yaml").read_text())
    pip_lines += next(entry["pip"] for entry in conda["dependencies"] if isinstance(entry, dict))
    return [line.strip() for line in pip_lines if line.strip() and not line.startswith("#")]


def why_unresolvable(line: str) -> str | None:
    """Why pip could not install requirement ``line`` as this environment has it, or None: it must be a
    pinned public distribution installed here at that version (the project's own name is on no
    package index; its code travels inside the model)."""
    requirement = Requirement(line)
    if canonicalize_name(requirement.name) == "pediatric-pneumonia":
        return "the project's own distribution, which no package index has"
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed in this environment"
    return None if requirement.specifier.contains(installed) and requirement.specifier else f"not pinned to {installed}"


# Loads a model folder in a Python that cannot import the project from anywhere but the model's own
# code: `python -I` ignores PYTHONPATH, the folder it starts in and the user's site; the script drops
# the editable install's source folder. Prints where the package came from, a prediction, and the
# top-level modules that the model's code imported itself (at module level or inside functions).
ISOLATED_LOAD = """
import builtins, importlib.util, json, sys
from pathlib import Path

model, image = sys.argv[1:]
sys.path = [entry for entry in sys.path if not Path(entry, "pediatric_pneumonia").exists()]
if importlib.util.find_spec("pediatric_pneumonia") is not None:
    sys.exit("pediatric_pneumonia is importable before the model is loaded")
code, imported, real_import = str(Path(model, "code").resolve()), set(), builtins.__import__

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and str((globals or {}).get("__file__", "")).startswith(code):
        imported.add(name.partition(".")[0])
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = recording_import
import mlflow.pyfunc
import pandas as pd

loaded = mlflow.pyfunc.load_model(model)
prediction = loaded.predict(pd.DataFrame({"image": [Path(image).read_bytes()]}))
import pediatric_pneumonia

print(json.dumps({
    "package": pediatric_pneumonia.__file__,
    "probability": float(prediction["probability"][0]),
    "imported": sorted(imported),
}))
"""


@pytest.mark.slow
def test_the_logged_model_carries_its_code_and_requires_only_what_resolves(tracking, tmp_path):
    run_id, predictor = log_version(0.9)
    model = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/baseline_model", dst_path=tmp_path / "download"))
    image = tmp_path / "xray.png"
    image.write_bytes(png_bytes(3))
    requirements = model_requirements(model)

    loaded = subprocess.run(
        [sys.executable, "-I", "-c", ISOLATED_LOAD, str(model), str(image)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    found = json.loads(loaded.stdout.splitlines()[-1])
    assert Path(found["package"]).is_relative_to(model / "code" / "pediatric_pneumonia")
    assert found["probability"] == pytest.approx(predictor.predict(image).probability, abs=1e-6)
    assert {line: why_unresolvable(line) for line in requirements} == dict.fromkeys(requirements)
    required = {canonicalize_name(Requirement(line).name) for line in requirements}
    owners = importlib.metadata.packages_distributions()
    unrequired = {
        module: owners[module]
        for module in found["imported"]
        if module in owners
        and module != "pediatric_pneumonia"
        and not required & {canonicalize_name(owner) for owner in owners[module]}
    }
    assert unrequired == {}, "the model's code imports these, its requirements do not name them"
