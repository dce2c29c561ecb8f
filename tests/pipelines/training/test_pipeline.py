"""A seed ensemble with test-time augmentation through the real ``baseline`` pipeline: one package,
one MLflow model and registry version, and every path scoring it as the report did."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.package import PACKAGE_FORMAT_VERSION
from pediatric_pneumonia.models.ensemble import ensemble_members
from tests.conftest import TEST_PARAMETERS, create_project, latest_version, make_raw_dataset, run_pipelines

pytestmark = pytest.mark.slow

TTA = {"transforms": ["shift_left", "zoom_out"], "shift_fraction": 0.05, "zoom": 0.1}


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("ensemble")
    raw = make_raw_dataset(base / "raw" / "chest_xray")
    parameters = {
        **TEST_PARAMETERS,
        "raw_data": {"root": str(raw)},
        "training": {**TEST_PARAMETERS["training"], "ensemble": {"members": 2, "distill": False}},
        "inference": {"tta": TTA},
    }
    project = create_project(base / "project", parameters)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(project)
        run_pipelines(project, ["baseline"])
        yield project


def test_an_ensemble_run_is_one_package_one_model_and_one_registry_version(ensemble_run):
    project = ensemble_run
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    package = latest_version(project / "data/06_models/baseline/predictor")
    config = json.loads((package / "predictor.json").read_text())
    predictor = Predictor.load("baseline", project_path=project)
    report = pd.read_csv(latest_version(project / "data/07_model_output/baseline/test_predictions.csv"))

    assert config["format_version"] == PACKAGE_FORMAT_VERSION and config["inference"]["tta"] == TTA
    assert len(ensemble_members(predictor.classifier)) == 2
    assert len(client.search_model_versions("name='pediatric_pneumonia_baseline'")) == 1
    run = client.get_run(client.search_runs([client.get_experiment_by_name("pediatric_pneumonia").experiment_id])[0].info.run_id)
    assert {"baseline.train.loss", "baseline.member_1.train.loss", "baseline.member_1.validation.loss"} <= set(run.data.metrics)
    probabilities = [prediction.probability for prediction in predictor.predict_batch(report["path"].tolist())]
    np.testing.assert_allclose(probabilities, report["probability"], atol=1e-6)
    mlflow.set_tracking_uri(uri)
    served = mlflow.pyfunc.load_model("models:/pediatric_pneumonia_baseline@best")
    content = open(report["path"][0], "rb").read()
    assert served.predict(pd.DataFrame({"image": [content]}))["probability"][0] == pytest.approx(report["probability"][0], abs=1e-6)
