"""kedro-viz sees the strategies as collapsible namespaces, with layers, and needs no MLflow."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import create_project

KEDRO = str(Path(sys.executable).parent / "kedro")


def test_viz_build_shows_each_strategy_as_a_namespace(tmp_path):
    project = create_project(tmp_path / "project", {})
    # No tracking store at all: viz must not need one.
    (project / "conf" / "base" / "mlflow.yml").unlink()

    subprocess.run(
        [KEDRO, "viz", "build"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    )

    main = json.loads((project / "build" / "api" / "main").read_text())
    namespaces = {node["name"] for node in main["nodes"] if node["type"] == "modularPipeline"}
    assert namespaces == {"baseline", "augmentation"}
    assert {"data_preparation", "baseline", "augmentation", "__default__"} <= {p["id"] for p in main["pipelines"]}
    assert main["layers"] == ["intermediate", "primary", "model_input", "models", "model_output", "reporting"]
    dataset_names = {node["name"] for node in main["nodes"] if node["type"] == "data"}
    assert {"train_set", "baseline.classifier", "augmentation.test_metrics"} <= dataset_names
