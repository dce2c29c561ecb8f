import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.partitions import PartitionedDataset
from PIL import Image

from pediatric_pneumonia.hooks import MlflowArtifactHook
from pediatric_pneumonia.pipelines.explain import create_pipeline
from tests.inference.conftest import predictor_around

from ...conftest import shipped_catalog
from ...explain.quadrant_model import SIZE, square_images, trained_quadrant_model
from .test_nodes import CLASSES, EXPLAIN_GROUP, NO_NORMALISATION


def explain_inputs() -> dict:
    """A test split of square images scored by the tiny trained model; threshold 0.5."""
    images, labels = square_images(24, seed=11)
    paths = np.array([f"/raw/test/{CLASSES[label]}/image{index}.jpeg" for index, label in enumerate(labels)])
    model = trained_quadrant_model()
    probabilities = model.predict(images[..., np.newaxis].astype(np.float32), verbose=0).reshape(-1)
    return {
        "predictor": predictor_around(model, {"method": "none"}),
        "test_set": {"images": images, "labels": labels, "paths": paths},
        "test_predictions": pd.DataFrame({"path": paths, "target": labels.astype(int), "probability": probabilities}),
        "decision_threshold": {"threshold": 0.5},
        "params:explain": EXPLAIN_GROUP,
        "params:preprocessing": NO_NORMALISATION,
        "params:raw_data.classes": CLASSES,
    }


def test_explain_pipeline_writes_overlays_contact_sheet_and_metrics(tmp_path: Path):
    inputs = explain_inputs()
    pipeline = create_pipeline()
    assert set(inputs) == pipeline.inputs()
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    catalog["explanations"] = PartitionedDataset(
        path=str(tmp_path / "explanations"), dataset="pillow.ImageDataset", filename_suffix=".png", overwrite=True
    )
    catalog["explanation_contact_sheet"] = MatplotlibDataset(filepath=str(tmp_path / "sheet.png"))
    catalog["explanation_metrics"] = JSONDataset(filepath=str(tmp_path / "explanation_metrics.json"))
    (tmp_path / "explanations").mkdir()
    (tmp_path / "explanations" / "stale.png").write_bytes(b"from an earlier run")

    outputs = SequentialRunner().run(pipeline, catalog)

    metrics = json.loads((tmp_path / "explanation_metrics.json").read_text())
    overlays = sorted((tmp_path / "explanations").iterdir())
    assert len(overlays) == metrics["n_explained"] == 4  # every prediction is right: 2 per true outcome
    assert all("_p" in path.stem and "_image" in path.stem for path in overlays)
    assert Image.open(overlays[0]).size == (SIZE, SIZE) and Image.open(overlays[0]).mode == "RGB"
    assert (tmp_path / "sheet.png").stat().st_size > 0
    assert metrics["border_mass_share.PNEUMONIA"] < 0.5
    assert abs(metrics["randomisation_rank_correlation_mean"]) < 0.5
    tracked = outputs["explanation_metrics_tracked"].load()
    assert tracked["n_explained"] == {"value": 4.0, "step": 0}


def test_catalog_patterns_resolve_per_strategy_and_the_overlay_folder_is_logged_to_mlflow(tracking):
    config = shipped_catalog("catalog_08_explain.yml")
    catalog = DataCatalog.from_config(config)
    overlays = catalog.get("baseline.explanations")
    assert isinstance(overlays, PartitionedDataset)
    assert catalog.get("baseline.explanation_metrics_tracked")._prefix == "baseline.explain"
    catalog.save("baseline.explanations", {"000_true_positive": Image.new("RGB", (4, 4))})

    hook = MlflowArtifactHook()
    hook.after_catalog_created(catalog)
    with mlflow.start_run() as run:
        hook.after_dataset_saved("baseline.explanations")
    logged = mlflow.artifacts.list_artifacts(run_id=run.info.run_id, artifact_path="baseline/explanations/overlays")
    assert [Path(artifact.path).name for artifact in logged] == ["000_true_positive.png"]
