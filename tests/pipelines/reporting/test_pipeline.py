import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.reporting import create_pipeline
from tests.inference.conftest import predictor_around

from .tiny_model import INTENSITY, flat_images, mean_gray_model


class KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release after its last reader, so the test can read it."""

    def _release(self) -> None:
        pass


def test_reporting_pipeline_runs_on_a_tiny_catalog():
    # Test: 3 normal (dark) and 4 pneumonia (bright) images, person1 with two of them; test image
    # "n3" is a copy of training image "r0".
    test_paths = ["IM-0001-0001.jpeg", "IM-0002-0001.jpeg", "n3.jpeg"] + [
        "person1_bacteria_1.jpeg",
        "person1_bacteria_2.jpeg",
        "person2_virus_3.jpeg",
        "person3_bacteria_4.jpeg",
    ]
    test_set = {
        "images": flat_images([20, 60, 140, 100, 180, 200, 240]),
        "labels": np.array([0, 0, 0, 1, 1, 1, 1], dtype=np.uint8),
        "paths": np.array(test_paths),
    }
    train_set = {
        "images": flat_images([140, 10]),
        "labels": np.array([0, 1], dtype=np.uint8),
        "paths": np.array(["r0", "r1"]),
    }
    image_split = pd.DataFrame(
        {
            "path": test_paths + ["r0", "r1"],
            "patient_id": ["IM-0001", "IM-0002", "file:n3", "person1_bacteria", "person1_bacteria", "person2_virus"]
            + ["person3_bacteria", "IM-0009", "person9_virus"],
            "content_hash": [f"h{index}" for index in range(7)] + ["h2", "h8"],
        }
    )
    calibration = {
        "method": "temperature",
        "temperature": 1.5,
        "bins": 10,
        **{f"validation_{name}_{stage}": 0.2 for name in ("nll", "ece", "brier") for stage in ("before", "after")},
        "validation_reliability_before": {"mean_probability": [0.2, 0.8], "observed_rate": [0.1, 0.9]},
        "validation_reliability_after": {"mean_probability": [0.2, 0.8], "observed_rate": [0.15, 0.85]},
    }
    inputs = {
        "predictor": predictor_around(mean_gray_model(), INTENSITY, calibration, batch_size=4),
        "test_set": test_set,
        "train_set": train_set,
        "image_split": image_split,
        "calibration": calibration,
        "decision_threshold": {
            "method": "youden",
            "threshold": 0.5,
            "validation_sensitivity": 1.0,
            "validation_specificity": 0.8,
        },
        "training_history": {"loss": [0.7], "val_loss": [0.8], "accuracy": [0.6], "val_accuracy": [0.5]},
        "params:raw_data.classes": ["NORMAL", "PNEUMONIA"],
        "params:reporting": check_parameters(
            "reporting",
            {"bootstrap_resamples": 50, "bootstrap_seed": 0, "confidence_level": 0.95, "patient_aggregation": "max"},
        ),
    }
    pipeline = create_pipeline()
    assert set(inputs) == pipeline.inputs()
    # A Predictor holds a Keras model: passed by reference, as the predictor dataset loads one.
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for name in pipeline.datasets() - pipeline.inputs():
        catalog[name] = KeptDataset()

    SequentialRunner().run(pipeline, catalog)

    metrics = catalog.load("test_metrics")
    assert metrics["n_images"] == 7 and metrics["n_patients"] == 6
    assert metrics["n_test_duplicates_of_train"] == 1 and metrics["n_images_without_duplicates"] == 6
    assert metrics["n_images_bacteria"] == 3 and metrics["n_images_virus"] == 1
    assert catalog.load("test_duplicates")["test_path"].tolist() == ["n3.jpeg"]
    predictions = catalog.load("test_predictions")
    assert {"raw_probability", "probability", "patient_id"} <= set(predictions.columns)
    tracked = catalog.load("test_metrics_tracked")
    assert tracked["test.accuracy_ci_high"]["value"] == metrics["accuracy_ci_high"]
    assert tracked["validation.sensitivity"]["value"] == metrics["validation_sensitivity"]
    assert tracked["operating_point.threshold"]["value"] == metrics["threshold"]
    assert isinstance(catalog.load("reliability_plot"), Figure)
