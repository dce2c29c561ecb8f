"""The real Kermany et al. images (the shared development copy), small settings. Skipped elsewhere."""

import json

import pandas as pd
import pytest

from tests.conftest import SHARED_DATA, TEST_PARAMETERS, latest_version, run_pipelines

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is not on this machine")]


def test_baseline_on_the_real_images(make_project):
    parameters = {**TEST_PARAMETERS, "raw_data": {"root": str(SHARED_DATA)}, "split": {"validation_fraction": 0.15}}
    project = make_project(parameters)

    run_pipelines(project, ["baseline"])

    manifest = pd.read_csv(project / "data/02_intermediate/image_manifest.csv")
    assert len(manifest) == 5232
    assert not manifest["patient_id"].str.startswith("file:").any(), "every public name carries its patient"
    split = pd.read_csv(project / "data/03_primary/image_split.csv")
    assert split.groupby("patient_id")["subset"].nunique().max() == 1
    not_test = split[split["subset"] != "test"]
    validation_share = not_test["subset"].eq("validation").groupby(not_test["label"]).mean()
    assert validation_share.between(0.14, 0.17).all(), validation_share
    metrics = json.loads(latest_version(project / "data/08_reporting/baseline/test_metrics.json").read_text())
    assert metrics["class_counts"] == {"NORMAL": 162, "PNEUMONIA": 421}
    assert metrics["roc_auc"] > 0.5
