"""evaluate on a new site's labelled images: the test report's figures from the same code, and
every kind of bad input answered with a clear error or a clear partial result."""

import json

import numpy as np
import pandas as pd
import pytest

from pediatric_pneumonia.data_layout import LabelledDataError, labelled_files
from pediatric_pneumonia.evaluation.site import score_site, site_report, write_site_report
from pediatric_pneumonia.imaging.preprocess import stored_image
from pediatric_pneumonia.naming import patient_id_from_filename
from pediatric_pneumonia.pipelines.reporting.nodes import compute_test_metrics, predict_test_set
from tests.conftest import CLASSES, make_raw_dataset, plant_bad_files
from tests.inference.conftest import make_predictor

from .site_data import REPORTING, gray_predictor, make_site

BINS = 10
NO_DUPLICATES = pd.DataFrame(columns=["test_path", "other_path", "other_subset", "identical"])


def test_evaluate_gives_the_pipelines_test_report_on_the_same_images_and_model(tmp_path):
    test_folder = make_raw_dataset(tmp_path / "raw") / "test"
    predictor = make_predictor(threshold=0.4, temperature=1.5)
    # The pipeline's side: images stored by the preprocessing function, patients as ingestion names them.
    paths = sorted(str(path) for path in test_folder.rglob("*.jpeg"))
    test_set = {
        "images": np.stack([stored_image(open(path, "rb").read(), path, predictor.preprocessing) for path in paths]),
        "labels": np.array([int("PNEUMONIA" in path) for path in paths], dtype=np.uint8),
        "paths": np.array(paths),
    }
    image_split = pd.DataFrame({"path": paths, "patient_id": [patient_id_from_filename(path) for path in paths]})
    calibration = {
        "method": "temperature", "temperature": 1.5, "bins": BINS,
        **{f"validation_{name}_{stage}": 0.1 for name in ("nll", "ece", "brier") for stage in ("before", "after")},
    }
    decision = {"method": "fixed", "threshold": 0.4, "validation_sensitivity": 0.9, "validation_specificity": 0.8}
    pipeline_report = compute_test_metrics(
        predict_test_set(predictor, test_set, image_split), decision, calibration, NO_DUPLICATES, CLASSES, REPORTING
    )

    report = predictor.evaluate(test_folder, REPORTING, BINS).report

    shared = set(pipeline_report) & set(report)
    assert {"accuracy", "roc_auc", "pr_auc", "specificity_at_0.5", "accuracy_ci_low", "test_ece_after",
            "patient_sensitivity", "n_images_bacteria", "confusion_matrix"} <= shared
    numeric = {key for key in shared if isinstance(report[key], float)}
    assert {key: report[key] for key in numeric} == pytest.approx({key: pipeline_report[key] for key in numeric})
    assert {key: report[key] for key in shared - numeric} == {key: pipeline_report[key] for key in shared - numeric}
    assert report["n_images"] == len(paths) and report["unreadable"] == {} and report["left_out"] == []
    assert report["patients_from"] == {"file names": len(paths)}


def test_a_site_report_is_written_as_json_markdown_and_figures(tmp_path):
    evaluation = gray_predictor().evaluate(make_site(tmp_path / "site"), REPORTING, BINS)

    written = write_site_report(evaluation, tmp_path / "out")

    assert sorted(path.name for path in written) == sorted(
        ["report.json", "report.md", "predictions.csv", "confusion_matrix.png", "reliability.png", "roc_curve.png"]
    )
    assert json.loads((tmp_path / "out" / "report.json").read_text())["n_images"] == 11
    summary = (tmp_path / "out" / "report.md").read_text()
    assert "11 images (5 NORMAL, 6 PNEUMONIA), 11 patients" in summary and "| ROC-AUC | 1.000" in summary


def test_a_one_class_set_reports_what_is_defined_and_names_what_is_not(tmp_path):
    site = make_site(tmp_path / "site", normal=[])

    report = gray_predictor().evaluate(site, REPORTING, BINS).report

    assert report["sensitivity"] == pytest.approx(3 / 6) and report["class_counts"] == {"NORMAL": 0, "PNEUMONIA": 6}
    assert "roc_auc" not in report and "specificity" not in report and "specificity_ci_low" not in report
    assert report["undefined"]["roc_auc"] == "no negative (NORMAL) images"
    assert "no NORMAL/ folder: the set holds no NORMAL images" in report["left_out"]


def test_unreadable_files_are_listed_and_the_rest_evaluated(tmp_path):
    site = make_site(tmp_path / "site")
    # A name that does not matter (content is sniffed) and no patient in it.
    (site / "NORMAL" / "good.jpeg").write_bytes(next((site / "PNEUMONIA").glob("*.png")).read_bytes())
    expected = plant_bad_files_in(site / "NORMAL")

    report = gray_predictor().evaluate(site, REPORTING, BINS).report

    assert report["n_images"] == 12
    assert sorted(path.rsplit("/", 1)[1] for path in report["unreadable"]) == sorted(expected)
    assert report["patients_from"] == {"file names": 11, "one per image": 1}


def plant_bad_files_in(folder):
    """plant_bad_files wants a JPEG to truncate: give it one, then list the junk (hidden files are skipped)."""
    (folder / "seed.jpeg").write_bytes(open(next(make_raw_dataset(folder.parent / "raw").rglob("*.jpeg")), "rb").read())
    planted = plant_bad_files(folder)
    (folder / "seed.jpeg").unlink()
    return [name for name in planted if not name.startswith(".")]


def test_a_csv_with_unknown_labels_and_missing_files_lists_them_and_evaluates_the_rest(tmp_path):
    site = make_site(tmp_path / "site")
    rows = [f"NORMAL/{path.name},NORMAL,A" for path in sorted((site / "NORMAL").iterdir())]
    rows += [f"PNEUMONIA/{path.name},PNEUMONIA," for path in sorted((site / "PNEUMONIA").iterdir())]
    rows += ["NORMAL/IM-0001-0001.png,COVID,", "NORMAL/gone.png,NORMAL,"]
    (site / "labels.csv").write_text("path,label,patient\n" + "\n".join(rows) + "\n")

    labelled = labelled_files(site / "labels.csv", CLASSES)
    report = site_report(gray_predictor(), score_site(gray_predictor(), labelled), REPORTING, BINS).report

    assert report["n_images"] == 11 and report["n_patients"] == 1 + 6
    assert report["patients_from"] == {"CSV column": 5, "file names": 6}
    assert len(report["left_out"]) == 2
    assert "line 13: unknown label 'COVID'" in report["left_out"][0] and "gone.png' is not a file" in report["left_out"][1]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root.mkdir() or (root / "scan.png").write_bytes(b"x") and root, r"has no class folders: it holds 1 files and 0 other folders directly"),
        (lambda root: (root / "NORMAL").mkdir(parents=True) or root, "holds no image files"),
        (lambda root: root, "does not exist"),
        (lambda root: root.parent.joinpath("labels.csv").write_text("file,class\n") and root.parent / "labels.csv",
         r"lacks the column\(s\) \['path', 'label'\]"),
    ],
    ids=["no class layout", "empty folder", "missing", "csv without columns"],
)
def test_data_that_is_not_a_labelled_set_is_refused_with_what_to_give(tmp_path, make, message):
    data = make(tmp_path / "site")

    with pytest.raises(LabelledDataError, match=message) as error:
        labelled_files(data, CLASSES)
    assert "path,label" in str(error.value)  # what to give instead


def test_a_set_of_only_unreadable_files_is_refused(tmp_path):
    (tmp_path / "site" / "NORMAL").mkdir(parents=True)
    (tmp_path / "site" / "NORMAL" / "notes.jpeg").write_text("not an image")

    with pytest.raises(ValueError, match="None of the 1 files could be read as an image"):
        gray_predictor().evaluate(tmp_path / "site", REPORTING, BINS)
