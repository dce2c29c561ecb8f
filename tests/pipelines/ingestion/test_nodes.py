import shutil
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.data_layout import RawDataLayoutError, locate_layout_root
from pediatric_pneumonia.imaging.decode import read_image_header
from pediatric_pneumonia.parameters import ParameterError, RawData, check_parameters
from pediatric_pneumonia.pipelines.ingestion.nodes import (
    build_image_manifest,
    find_split_leakage,
    inspect_image_file,
    patient_id_from_filename,
    select_rejected_files,
)
from tests.conftest import CLASSES, SPLITS, TINY_COUNTS, plant_bad_files

INGESTION = check_parameters("ingestion", {"workers": 2, "patient_key": "person_and_subtype"})


def raw_data(root, classes=CLASSES) -> RawData:
    return check_parameters("raw_data", {"root": str(root), "splits": SPLITS, "folders": CLASSES, "classes": classes})


@pytest.mark.parametrize(
    ("filename", "patient"),
    [
        ("person1946_bacteria_4874.jpeg", "person1946_bacteria"),
        ("person1_virus_11_2.jpeg", "person1_virus"),
        ("IM-0115-0001.jpeg", "IM-0115"),
        ("IM-0429-0001-0002.jpeg", "IM-0429"),
        ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"),
        ("scan_0001.jpeg", None),
    ],
)
def test_patient_id_comes_from_the_public_file_name(filename, patient):
    assert patient_id_from_filename(filename) == patient


def test_strict_patient_key_groups_both_subtypes_of_one_person_number():
    assert patient_id_from_filename("person100_virus_184.jpeg", "person") == "person100"
    assert patient_id_from_filename("person100_bacteria_475.jpeg", "person") == "person100"
    assert patient_id_from_filename("person100_bacteria_475.jpeg") == "person100_bacteria"


def test_unknown_patient_key_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="person_and_subtype"):
        check_parameters("ingestion", {"workers": 2, "patient_key": "subject"})


def test_manifest_has_one_row_per_file_with_geometry_and_hash(raw_dataset):
    manifest = build_image_manifest(raw_data(raw_dataset), INGESTION)

    expected = sum(sum(per_class.values()) for per_class in TINY_COUNTS.values())
    assert len(manifest) == expected
    assert (manifest["status"] == "ok").all()
    assert set(manifest["split"]) == set(SPLITS)
    assert (manifest[["width", "height"]] == 64).all().all()
    assert (manifest["channels"] == 1).all()
    assert manifest["content_hash"].str.len().eq(40).all()
    assert not manifest["patient_id"].str.startswith("file:").any()


def test_bad_files_are_rejected_with_a_reason_and_the_rest_kept(raw_dataset):
    expected_reasons = plant_bad_files(raw_dataset / "train" / "NORMAL")

    manifest = build_image_manifest(raw_data(raw_dataset), INGESTION)
    rejected = select_rejected_files(manifest)

    reasons = {path.rsplit("/", 1)[-1]: reason for path, reason in zip(rejected["path"], rejected["reason"])}
    assert set(reasons) == set(expected_reasons)
    for name, reason_start in expected_reasons.items():
        assert reasons[name].startswith(reason_start), (name, reasons[name])
    assert manifest["status"].eq("ok").sum() == len(manifest) - len(expected_reasons)


def test_unknown_file_names_become_one_patient_group_each(raw_dataset, caplog):
    folder = raw_dataset / "train" / "NORMAL"
    source = next(folder.glob("*.jpeg"))
    shutil.copy(source, folder / "scan_a.jpeg")
    shutil.copy(source, folder / "scan_b.jpeg")

    manifest = build_image_manifest(raw_data(raw_dataset), INGESTION)

    groups = manifest.loc[manifest["path"].str.contains("scan_"), "patient_id"]
    assert groups.nunique() == 2
    assert "do not follow the public naming" in caplog.text


def test_png_is_ingested_and_truncated_png_or_bmp_are_rejected(tmp_path):
    png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
    files = {"whole.png": png, "cut.png": png[:-20], "scan.gif": b"GIF89a" + bytes(20)}
    files["scan.bmp"] = cv2.imencode(".bmp", np.zeros((8, 8), np.uint8))[1].tobytes()
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    reasons = {name: inspect_image_file(tmp_path / name)["reason"] for name in files}
    assert reasons["whole.png"] == ""
    assert reasons["cut.png"].startswith("truncated PNG")
    assert reasons["scan.gif"] == reasons["scan.bmp"] == "not a JPEG or PNG image"


def test_identical_images_in_two_splits_are_reported_as_leakage(raw_dataset):
    leaked = next((raw_dataset / "train" / "PNEUMONIA").glob("*.jpeg"))
    shutil.copy(leaked, raw_dataset / "test" / "PNEUMONIA" / "person999_bacteria_1.jpeg")

    leakage = find_split_leakage(build_image_manifest(raw_data(raw_dataset), INGESTION))

    assert leakage["content_hash"].nunique() == 1
    assert set(leakage["split"]) == {"train", "test"}


def test_nested_kaggle_folder_and_macosx_junk_are_handled(tmp_path, raw_dataset):
    archive = tmp_path / "archive"
    shutil.copytree(raw_dataset, archive / "chest_xray")
    (archive / "__MACOSX" / "chest_xray" / "train").mkdir(parents=True)

    assert locate_layout_root(archive, SPLITS, CLASSES) == archive / "chest_xray"
    manifest = build_image_manifest(raw_data(archive), INGESTION)
    assert not manifest["path"].str.contains("__MACOSX").any()


def test_missing_root_names_the_folder_and_how_to_get_data(tmp_path):
    with pytest.raises(RawDataLayoutError, match="does not exist") as error:
        build_image_manifest(raw_data(tmp_path / "nowhere"), INGESTION)
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message
    assert "pediatric-pneumonia download" in message
    assert "raw_data.root" in message


def test_missing_class_folder_is_named(raw_dataset):
    shutil.rmtree(raw_dataset / "test" / "NORMAL")
    with pytest.raises(RawDataLayoutError, match=r"test/NORMAL"):
        build_image_manifest(raw_data(raw_dataset), INGESTION)


def test_missing_split_folder_is_named(raw_dataset):
    shutil.rmtree(raw_dataset / "val")
    with pytest.raises(RawDataLayoutError, match="train/val/test"):
        build_image_manifest(raw_data(raw_dataset), INGESTION)


def test_rejected_report_is_empty_but_well_formed_on_clean_data(raw_dataset):
    rejected = select_rejected_files(build_image_manifest(raw_data(raw_dataset), INGESTION))
    assert isinstance(rejected, pd.DataFrame)
    assert rejected.empty
    assert list(rejected.columns) == ["path", "split", "label", "size_bytes", "reason"]


@pytest.mark.parametrize("extension", [".jpeg", ".png"])
def test_header_geometry_matches_opencv(extension):
    color = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    gray = color[..., 0]
    assert read_image_header(cv2.imencode(extension, color)[1].tobytes()) == (50, 30, 3)
    assert read_image_header(cv2.imencode(extension, gray)[1].tobytes()) == (50, 30, 1)


def test_jpeg_with_a_broken_header_is_rejected(tmp_path):
    path = tmp_path / "broken.jpeg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(40) + b"\xff\xd9")
    record = inspect_image_file(path)
    assert record["status"] == "rejected"
    assert record["reason"].startswith("unreadable image header")


def test_image_too_large_to_decode_is_rejected_at_ingestion(tmp_path):
    png = bytearray(cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes())
    png[16:24] = (100_000).to_bytes(4, "big") * 2  # the IHDR claims 100000 x 100000 pixels
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # a valid IHDR checksum: Pillow checks it
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(png))
    record = inspect_image_file(path)
    assert record["status"] == "rejected"
    assert record["reason"].startswith("too large (100000x100000")


def test_the_subtype_task_labels_pneumonia_files_by_their_names_and_rejects_a_name_without_one(raw_dataset):
    unnamed = raw_dataset / "train" / "PNEUMONIA" / "scan_0001.jpeg"
    unnamed.write_bytes(next((raw_dataset / "train" / "PNEUMONIA").glob("person*.jpeg")).read_bytes())

    manifest = build_image_manifest(raw_data(raw_dataset, ["NORMAL", "BACTERIA", "VIRUS"]), INGESTION)

    usable = manifest[manifest["status"] == "ok"]
    assert set(usable["label"]) == {"NORMAL", "BACTERIA", "VIRUS"}
    for path, label in zip(usable["path"], usable["label"]):
        name = Path(path).name
        assert label == ("BACTERIA" if "_bacteria_" in name else "VIRUS" if "_virus_" in name else "NORMAL"), name
    rejected = manifest[manifest["path"] == str(unnamed)].iloc[0]
    assert rejected["status"] == "rejected" and rejected["label"] == "PNEUMONIA"
    assert "its name says no pneumonia subtype (personN_bacteria_M or personN_virus_M)" in rejected["reason"]
    assert (manifest["status"] == "ok").sum() == (build_image_manifest(raw_data(raw_dataset), INGESTION)["status"] == "ok").sum() - 1


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        (["NORMAL", "FUNGAL"], r"names \['FUNGAL'\], neither a folder of raw_data.folders"),
        (["NORMAL", "BACTERIA"], None),
        (["BACTERIA", "VIRUS"], r"raw_data.folders \['NORMAL', 'PNEUMONIA'\] are not among raw_data.classes"),
    ],
)
def test_the_classes_are_folders_or_subtypes_read_from_names(tmp_path, classes, message):
    if message is None:
        assert raw_data(tmp_path, classes).classes == classes
        return
    with pytest.raises(ParameterError, match=message):
        raw_data(tmp_path, classes)
