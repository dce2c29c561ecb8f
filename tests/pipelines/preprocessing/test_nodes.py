import cv2
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.pipelines.ingestion.nodes import build_image_manifest
from pediatric_pneumonia.pipelines.preprocessing.nodes import (
    ImageDecodeError,
    PatientLeakageError,
    assert_patient_disjoint,
    assign_subsets,
    build_image_sets,
    load_grayscale_image,
    reduced_decode_flag,
)
from tests.conftest import CLASSES, SPLITS, plant_bad_files

SPLIT = {"validation_fraction": 0.25, "seed": 1}


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


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1600, 1300, cv2.IMREAD_REDUCED_GRAYSCALE_8),
        (600, 620, cv2.IMREAD_REDUCED_GRAYSCALE_4),
        (400, 300, cv2.IMREAD_REDUCED_GRAYSCALE_2),
        (224, 224, cv2.IMREAD_GRAYSCALE),
    ],
)
def test_reduced_decode_never_goes_below_the_target_size(width, height, expected):
    assert reduced_decode_flag(width, height, 148) == expected


def test_reduced_decode_matches_a_full_decode_and_resize(tmp_path):
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.integers(0, 255, (10, 12), dtype=np.uint8), (1600, 1300), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "large.jpeg"
    cv2.imwrite(str(path), smooth)

    fast = load_grayscale_image(str(path), 1600, 1300, 148)
    naive = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (148, 148), interpolation=cv2.INTER_AREA)

    assert fast.shape == (148, 148) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - naive.astype(int)).mean() < 3


def test_undecodable_file_names_the_file(tmp_path):
    path = tmp_path / "broken.jpeg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(100) + b"\xff\xd9")
    with pytest.raises(ImageDecodeError, match="broken.jpeg"):
        load_grayscale_image(str(path), 100, 100, 32)


def test_image_sets_are_uint8_with_labels_in_class_order(raw_dataset):
    plant_bad_files(raw_dataset / "train" / "PNEUMONIA")
    manifest = build_image_manifest({"root": str(raw_dataset), "splits": SPLITS, "classes": CLASSES}, {"workers": 2, "patient_key": "person_and_subtype"})
    split = assign_subsets(manifest, SPLIT)

    train, validation, test = build_image_sets(split, CLASSES, {"image_size": 24, "workers": 2})

    for image_set, subset in ((train, "train"), (validation, "validation"), (test, "test")):
        rows = split[split["subset"] == subset]
        assert image_set["images"].shape == (len(rows), 24, 24)
        assert image_set["images"].dtype == np.uint8
        assert image_set["labels"].tolist() == rows["label"].map(CLASSES.index).tolist()
        assert image_set["paths"].tolist() == rows["path"].tolist()
    assert set(test["paths"]).isdisjoint(train["paths"])


def test_a_subset_without_a_class_is_a_clear_error(raw_dataset):
    manifest = build_image_manifest({"root": str(raw_dataset), "splits": SPLITS, "classes": CLASSES}, {"workers": 2, "patient_key": "person_and_subtype"})
    split = assign_subsets(manifest, SPLIT)
    no_normal_test = split[~((split["subset"] == "test") & (split["label"] == "NORMAL"))]
    with pytest.raises(ValueError, match=r"test subset has no \['NORMAL'\]"):
        build_image_sets(no_normal_test, CLASSES, {"image_size": 24, "workers": 2})
