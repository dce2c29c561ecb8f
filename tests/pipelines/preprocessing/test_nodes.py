import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.ingestion.nodes import build_image_manifest
from pediatric_pneumonia.pipelines.preprocessing.nodes import (
    PatientLeakageError,
    assert_patient_disjoint,
    assign_subsets,
    build_image_sets,
)
from tests.conftest import CLASSES, plant_bad_files
from tests.pipelines.ingestion.test_nodes import INGESTION, raw_data

SPLIT = check_parameters("split", {"validation_fraction": 0.25, "seed": 1})
INTENSITY = {"method": "clahe", "clahe_clip_limit": 2.0, "clahe_tile_grid": 4, "percentiles": [1, 99]}
PREPROCESSING = check_parameters(
    "preprocessing", {"image_size": 24, "workers": 2, "geometry": "stretch", "border_crop": 0.0, "intensity": INTENSITY}
)


def manifest_rows(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """A manifest of usable images from (split, label, patient) triples."""
    return pd.DataFrame(
        [
            {"path": f"/x/{index}.jpeg", "split": split, "label": label, "patient_id": patient, "status": "ok"}
            for index, (split, label, patient) in enumerate(rows)
        ]
    )


def test_subsets_keep_every_patient_on_one_side():
    rows = [("train", "NORMAL", f"IM-{p}") for p in range(20) for _ in range(2)]
    rows += [("train", "PNEUMONIA", f"person{p}") for p in range(40) for _ in range(3)]
    rows += [("test", "NORMAL", "IM-900"), ("test", "PNEUMONIA", "person900")]
    split = assign_subsets(manifest_rows(rows), SPLIT)

    assert split.groupby("patient_id")["subset"].nunique().max() == 1
    validation = split[split["subset"] == "validation"].groupby("label").size()
    assert validation["NORMAL"] == 10  # 25% of 40 NORMAL images, whole patients of 2
    assert validation["PNEUMONIA"] == 30  # 25% of 120, whole patients of 3
    assert (split.loc[split["split"] == "test", "subset"] == "test").all()


def test_public_val_patients_join_validation_with_their_train_images():
    rows = [("train", "NORMAL", "IM-1"), ("val", "NORMAL", "IM-1")]
    rows += [("train", "NORMAL", f"IM-{p}") for p in range(2, 12)]
    rows += [("train", "PNEUMONIA", f"person{p}") for p in range(12)]
    rows += [("test", "NORMAL", "IM-900"), ("test", "PNEUMONIA", "person900")]
    split = assign_subsets(manifest_rows(rows), SPLIT)

    assert set(split.loc[split["patient_id"] == "IM-1", "subset"]) == {"validation"}


def test_train_images_of_test_patients_are_dropped(caplog):
    rows = [("train", "PNEUMONIA", "person1"), ("test", "PNEUMONIA", "person1")]
    rows += [("train", "NORMAL", f"IM-{p}") for p in range(8)]
    rows += [("train", "PNEUMONIA", f"person{p}") for p in range(2, 10)]
    rows += [("test", "NORMAL", "IM-900")]
    split = assign_subsets(manifest_rows(rows), SPLIT)

    assert split.loc[split["patient_id"] == "person1", "split"].tolist() == ["test"]
    assert "also in the test split" in caplog.text


def test_rejected_files_never_reach_the_subsets():
    manifest = manifest_rows([("train", "NORMAL", f"IM-{p}") for p in range(8)] + [("test", "NORMAL", "IM-99")])
    manifest.loc[0, "status"] = "rejected"
    split = assign_subsets(manifest, SPLIT)
    assert "/x/0.jpeg" not in set(split["path"])


def test_leakage_check_fails_loudly():
    leaky = pd.DataFrame({"patient_id": ["person1", "person1", "person2"], "subset": ["train", "test", "train"]})
    with pytest.raises(PatientLeakageError, match="person1"):
        assert_patient_disjoint(leaky)


def test_image_sets_are_uint8_with_labels_in_class_order(raw_dataset):
    plant_bad_files(raw_dataset / "train" / "PNEUMONIA")
    manifest = build_image_manifest(raw_data(raw_dataset), INGESTION)
    split = assign_subsets(manifest, SPLIT)

    train, validation, test = build_image_sets(split, CLASSES, PREPROCESSING)

    for image_set, subset in ((train, "train"), (validation, "validation"), (test, "test")):
        rows = split[split["subset"] == subset]
        assert image_set["images"].shape == (len(rows), 24, 24)
        assert image_set["images"].dtype == np.uint8
        assert image_set["labels"].tolist() == rows["label"].map(CLASSES.index).tolist()
        assert image_set["paths"].tolist() == rows["path"].tolist()
    assert set(test["paths"]).isdisjoint(train["paths"])


def test_a_subset_without_a_class_is_a_clear_error(raw_dataset):
    manifest = build_image_manifest(raw_data(raw_dataset), INGESTION)
    split = assign_subsets(manifest, SPLIT)
    no_normal_test = split[~((split["subset"] == "test") & (split["label"] == "NORMAL"))]
    with pytest.raises(ValueError, match=r"test subset has no \['NORMAL'\]"):
        build_image_sets(no_normal_test, CLASSES, PREPROCESSING)
