"""The data commands: demo data generation and the download's checks."""

import importlib.metadata
import shutil

import click
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pediatric_pneumonia.cli import cli
from pediatric_pneumonia.cli.data import link_checked_dataset
from pediatric_pneumonia.data_layout import EXPECTED_IMAGES, count_images
from pediatric_pneumonia.demo_data import MARKER_FILE, generate_demo_dataset, opacity_pattern
from pediatric_pneumonia.naming import patient_id_from_filename
from tests.conftest import CLASSES, REPO_ROOT, SPLITS, TINY_COUNTS, make_raw_dataset


def test_demo_dataset_has_the_public_layout_and_names(tmp_path):
    root = make_raw_dataset(tmp_path / "demo")

    assert (root / MARKER_FILE).read_text().startswith("Synthetic")
    for split, per_class in TINY_COUNTS.items():
        for label, count in per_class.items():
            files = sorted((root / split / label).glob("*.jpeg"))
            assert len(files) == count
            assert all(patient_id_from_filename(path.name) for path in files)
            assert cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape == (64, 64)
    patients = {
        split: {patient_id_from_filename(path.name) for path in (root / split).rglob("*.jpeg")} for split in SPLITS
    }
    assert patients["train"].isdisjoint(patients["test"])
    assert patients["train"].isdisjoint(patients["val"])


def test_demo_dataset_is_deterministic(tmp_path):
    settings = {"seed": 5, "image_size": 48, "counts": {"train": {"NORMAL": 2, "PNEUMONIA": 2}}}
    generate_demo_dataset(tmp_path / "a", settings, CLASSES)
    generate_demo_dataset(tmp_path / "b", settings, CLASSES)
    for path in (tmp_path / "a").rglob("*.jpeg"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_demo_pneumonia_subtypes_look_different():
    """Bacterial files get a few large patches, viral ones many small spots: blobs in the added opacity."""
    lungs = np.ones((148, 148), dtype=np.float32)
    rng = np.random.default_rng(0)

    def blobs(subtype: str) -> int:
        pattern = opacity_pattern(rng, 148, lungs, [(52, 74), (96, 74)], (20, 42), subtype)
        return cv2.connectedComponents((pattern > 10).astype(np.uint8))[0] - 1

    bacteria, virus = [np.mean([blobs(subtype) for _ in range(10)]) for subtype in ("bacteria", "virus")]
    assert virus > 2 * bacteria


@pytest.fixture
def project_folder(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_demo_data_command_writes_to_the_demo_environments_root(project_folder):
    result = CliRunner().invoke(cli, ["demo-data"])

    assert result.exit_code == 0, result.output
    root = project_folder / "data/01_raw/demo_chest_xray_synthetic"
    assert count_images(root, SPLITS) == {"train": 522, "val": 16, "test": 63}
    again = CliRunner().invoke(cli, ["demo-data"])
    assert "already" in again.output


def test_demo_data_reads_and_writes_the_project_given_by_project_path(project_folder, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = CliRunner().invoke(cli, ["demo-data", "--project-path", str(project_folder)])

    assert result.exit_code == 0, result.output
    assert (project_folder / "data/01_raw/demo_chest_xray_synthetic" / MARKER_FILE).is_file()
    assert not any(elsewhere.iterdir())


def test_commands_outside_the_project_say_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo-data"])
    assert result.exit_code != 0
    assert "project root" in result.output


def test_download_refuses_to_overwrite_existing_data(project_folder):
    (project_folder / "data/01_raw/chest_xray").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["download"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def kaggle_like_archive(folder):
    """The archive's shape: chest_xray/{train,val,test} beside __MACOSX junk and a .DS_Store."""
    make_raw_dataset(folder / "chest_xray")
    (folder / "__MACOSX" / "chest_xray" / "train").mkdir(parents=True)
    (folder / "chest_xray" / "train" / "NORMAL" / ".DS_Store").write_bytes(b"Bud1")
    return folder


def test_download_check_links_the_nested_dataset(tmp_path):
    archive = kaggle_like_archive(tmp_path / "archive")
    root = tmp_path / "project" / "data" / "01_raw" / "chest_xray"
    expected = {split: sum(counts.values()) for split, counts in TINY_COUNTS.items()}

    found = link_checked_dataset(archive, root, {"splits": SPLITS, "folders": CLASSES}, expected)

    assert found == expected
    assert root.is_symlink() and root.resolve() == (archive / "chest_xray").resolve()


def test_download_check_refuses_an_incomplete_download(tmp_path):
    archive = kaggle_like_archive(tmp_path / "archive")
    root = tmp_path / "chest_xray"
    with pytest.raises(click.ClickException, match="expected .*5216"):
        link_checked_dataset(archive, root, {"splits": SPLITS, "folders": CLASSES}, EXPECTED_IMAGES)
    assert not root.exists()
    assert sum(EXPECTED_IMAGES.values()) == 5856


def test_version_prints_the_installed_distributions_version():
    result = CliRunner().invoke(cli, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"pediatric-pneumonia, version {importlib.metadata.version('pediatric-pneumonia')}\n"
