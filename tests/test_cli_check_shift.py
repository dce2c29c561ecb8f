"""``pediatric-pneumonia check-shift``: a plain summary and a JSON report on a folder of unlabelled
images; clear exits for a model without a shift reference, an empty folder and unreadable files."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pediatric_pneumonia.cli import cli
from tests.inference.conftest import make_predictor, smooth_images, with_shift_reference


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """A package with a shift reference (of 60 smooth images) and the same model without one."""
    folder = tmp_path_factory.mktemp("models")
    plain = make_predictor()
    plain.save(folder / "plain")
    with_shift_reference(plain, smooth_images(60, seed=100)).save(folder / "referenced")
    return folder


@pytest.fixture
def site(tmp_path):
    """Twelve unlabelled images, some in a class folder and some flat (labels are not read)."""
    folder = tmp_path / "site"
    for index, image in enumerate(smooth_images(12, seed=3, size=48)):
        parent = folder / ("NORMAL" if index % 3 else "")
        parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(parent / f"image{index}.png"), image)
    return folder


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_check_shift_prints_a_summary_and_writes_the_report(site, packages, tmp_path):
    result = invoke("check-shift", site, "--model", packages / "referenced", "--output", tmp_path / "out", "--permutations", 199)

    assert result.exit_code == 0, result.output
    assert "Shift check of 12 images" in result.stdout and "Verdict:" in result.stdout
    report = json.loads((tmp_path / "out" / "shift_report.json").read_text())
    assert report["images"] == 12 and report["mmd"]["permutations"] == 199
    assert {"p_value", "effect_size", "statistic"} <= report["mmd"].keys()
    assert {"predicted_prevalence", "reference_predicted_prevalence", "p_value"} <= report["prevalence"].keys()
    assert len(report["per_image"]) == 12 and all(0 <= row["ood_score"] <= 100 for row in report["per_image"])
    assert report["unreadable"] == []


def test_unreadable_files_are_listed_and_the_rest_checked(site, packages, tmp_path):
    (site / "notes.png").write_text("not an image")

    result = invoke("check-shift", site, "--model", packages / "referenced", "--output", tmp_path / "out")

    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "out" / "shift_report.json").read_text())
    assert report["images"] == 12 and [row["source"] for row in report["unreadable"]] == [str(site / "notes.png")]
    assert "notes.png" in result.stderr and "1 of 13 files could not be read" in result.stderr


def test_a_package_without_reference_exits_2_with_the_format_that_added_it(site, packages):
    result = invoke("check-shift", site, "--model", packages / "plain")

    assert result.exit_code == 2
    assert "carries no shift reference" in result.stderr and "package format 2" in result.stderr
    assert "Traceback" not in result.output


def test_an_empty_folder_or_one_without_two_images_exits_2(tmp_path, packages):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpeg").write_text("no")
    cv2.imwrite(str(tmp_path / "junk" / "b.png"), np.zeros((20, 20), np.uint8))

    empty = invoke("check-shift", tmp_path / "empty", "--model", packages / "referenced")
    junk = invoke("check-shift", tmp_path / "junk", "--model", packages / "referenced")

    assert empty.exit_code == 2 and "holds no files" in empty.stderr
    assert junk.exit_code == 2 and "1 readable image(s) of 2 files: a shift check needs at least 2" in junk.stderr


def test_predict_rows_carry_the_ood_score_with_a_referenced_package(site, packages):
    result = invoke("predict", site, "--model", packages / "referenced", "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 12 and all(isinstance(row["ood_score"], float) and "ood_warning" in row for row in rows)
