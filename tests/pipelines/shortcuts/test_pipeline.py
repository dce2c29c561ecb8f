import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.shortcuts import create_pipeline
from pediatric_pneumonia.pipelines.shortcuts.nodes import (
    measure_shortcut_properties,
    score_shortcut_strata,
    summarise_shortcut_audit,
)
from pediatric_pneumonia.tracking import to_mlflow_metrics
from tests.inference.conftest import IMAGE_SIZE, make_predictor
from tests.inference.test_three_class_package import three_class_predictor
from tests.pipelines.reporting.test_pipeline import KeptDataset

SHORTCUTS = {"strata": 4, "cv_folds": 3, "gradcam_images": 6, "seed": 0}
EXPLAIN = {
    "per_outcome": 2,
    "max_errors": 2,
    "seed": 0,
    "border_fraction": 0.1,
    "layer": None,
    "alpha": 0.4,
    "contact_sheet_columns": 4,
    "randomisation_seed": 0,
}


def image_set(normal: int, pneumonia: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    labels = np.array([0] * normal + [1] * pneumonia, dtype=np.uint8)
    return {
        "images": rng.integers(0, 256, (len(labels), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8),
        "labels": labels,
        "paths": np.array([f"/raw/{seed}_{index}.jpeg" for index in range(len(labels))]),
    }


def test_the_shortcut_audit_runs_in_its_pipeline_on_tiny_data():
    check_parameters("shortcuts", SHORTCUTS)
    inputs = {
        "predictor": make_predictor(),
        "train_set": image_set(12, 18, 0),
        "validation_set": image_set(6, 8, 1),
        "params:shortcuts": check_parameters("shortcuts", SHORTCUTS),
        "params:explain": check_parameters("explain", EXPLAIN),
        "params:raw_data.classes": ["NORMAL", "PNEUMONIA"],
    }
    pipeline = create_pipeline()
    assert set(inputs) == pipeline.inputs()
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for name in pipeline.datasets() - pipeline.inputs():
        catalog[name] = KeptDataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)

    strata = catalog["shortcut_strata"].load()
    assert isinstance(strata, pd.DataFrame)
    assert strata.groupby("property")["n_negative"].sum().eq(6).all()
    assert strata.groupby("property")["n_positive"].sum().eq(8).all()
    audit = catalog["shortcut_audit"].load()
    assert audit["train.n_images"] == 30
    assert 0.5 <= audit["train.sharpness.roc_auc"] <= 1.0 and 0.0 <= audit["train.combined.roc_auc"] <= 1.0
    assert "validation.sharpness.specificity_spread" in audit
    assert audit["validation.specificity_spread_worst_property"] in set(strata["property"])
    assert audit["gradcam.n_images"] == 6 and 0.0 <= audit["gradcam.border_mass_share_mean"] <= 1.0
    assert catalog["shortcut_audit_tracked"].load() == to_mlflow_metrics(audit)
    assert isinstance(catalog["shortcut_strata_plot"].load(), Figure)


def three_class_set(per_class: int, seed: int) -> dict:
    """``per_class`` random 8x8 images (the three-class test model's size) of NORMAL, BACTERIA and VIRUS each."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], per_class).astype(np.uint8)
    return {
        "images": rng.integers(0, 200, (len(labels), 8, 8), dtype=np.uint8),
        "labels": labels,
        "paths": np.array([f"/raw/{seed}_{index}.jpeg" for index in range(len(labels))]),
    }


def test_a_three_class_audit_also_asks_what_tells_the_subtypes_apart():
    classes = ["NORMAL", "BACTERIA", "VIRUS"]
    train_set, validation_set = three_class_set(10, 0), three_class_set(3, 1)
    train_set["images"][20:] = np.clip(train_set["images"][20:].astype(int) + 60, 0, 255)  # VIRUS images brighter
    shortcuts, explain = check_parameters("shortcuts", SHORTCUTS), check_parameters("explain", EXPLAIN)

    properties = measure_shortcut_properties(train_set, validation_set, classes, explain)
    strata = score_shortcut_strata(three_class_predictor(), validation_set, properties, shortcuts)
    audit = summarise_shortcut_audit(properties, strata, {}, shortcuts, classes)

    assert properties["class"].tolist()[:30] == ["NORMAL"] * 10 + ["BACTERIA"] * 10 + ["VIRUS"] * 10
    assert properties["target"].tolist()[:30] == [0] * 10 + [1] * 20
    assert audit["train.bacteria_vs_virus.n_images"] == 20
    assert audit["train.bacteria_vs_virus.mean_intensity.roc_auc"] == 1.0
    assert audit["train.bacteria_vs_virus.mean_intensity.direction"] == "higher_in_positive"
    assert audit["train.n_images"] == 30 and "train.combined.roc_auc" in audit
