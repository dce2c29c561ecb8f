"""kedro-viz sees the strategies as collapsible namespaces, with layers, and needs no MLflow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pediatric_pneumonia.strategies import STRATEGIES
from tests.conftest import create_project

KEDRO = str(Path(sys.executable).parent / "kedro")

pytestmark = pytest.mark.slow


def test_viz_build_shows_each_strategy_as_a_namespace(tmp_path):
    project = create_project(tmp_path / "project", {})
    # No tracking store at all: viz must not need one.
    (project / "conf" / "base" / "mlflow.yml").unlink()
    (project / "conf" / "test" / "mlflow.yml").unlink()

    subprocess.run(
        [KEDRO, "viz", "build"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )

    main = json.loads((project / "build" / "api" / "main").read_text())
    namespaces = {node["name"] for node in main["nodes"] if node["type"] == "modularPipeline"}
    assert namespaces == set(STRATEGIES)
    assert {"data_preparation", "synthesis", "synthesis_report", *STRATEGIES, "__default__"} <= {
        pipeline["id"] for pipeline in main["pipelines"]
    }
    assert main["layers"] == ["intermediate", "primary", "feature", "synthesis", "model_input", "models", "model_output", "reporting", "deployment"]
    dataset_names = {node["name"] for node in main["nodes"] if node["type"] == "data"}
    assert {"train_set", "synthetic_set", "baseline.classifier", "combined.test_metrics"} <= dataset_names
