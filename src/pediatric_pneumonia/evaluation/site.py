"""Does a model work at another site? Its labelled images scored by the predictor and reported
with the same figures as a strategy's test report (``report.prediction_report``), written as
``report.json``, ``report.md`` and PNG figures.

The predictor is passed in (anything with ``stored_image``, ``raw_probabilities``, ``calibrate``,
``threshold``, ``classes`` and ``name``: ``inference.Predictor``); this module never imports it, so
``Predictor.evaluate`` can call it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data_layout import LabelledFiles
from ..parameters import Reporting
from .frames import with_probabilities
from .plots import plot_confusion_matrices, plot_roc_curve, reliability_figure, set_reliability
from .report import prediction_report
from .shift import read_stored_images

REPORT_FILE, SUMMARY_FILE = "report.json", "report.md"


@dataclass(frozen=True)
class ScoredSite:
    """A site's labelled images as the predictor scored them: ``predictions`` (the columns of the
    test predictions: path, patient_id, label, target, raw_probability, probability, and
    patient_from), the stored images in the same order, the unreadable files with their reason and
    the rows of the labelled set left out (``problems``)."""

    predictions: pd.DataFrame
    stored_images: np.ndarray
    unreadable: dict[str, str]
    problems: list[str] = field(default_factory=list)

    @property
    def patient_source(self) -> dict[str, int]:
        """Where the scored images' patients came from, with the image count of each source."""
        return {source: int(count) for source, count in self.predictions["patient_from"].value_counts(sort=False).items()}

    @property
    def left_out(self) -> list[str]:
        """Everything not scored, one line each: the rows left out, then the unreadable files with their reason."""
        return self.problems + [f"{path}: {why}" for path, why in self.unreadable.items()]


@dataclass(frozen=True)
class SiteEvaluation:
    """The report (``report``: a JSON-ready dict), the scored set and the report's figures."""

    report: dict
    scored: ScoredSite
    figures: dict[str, Figure]


class NoReadableImageError(ValueError):
    """A labelled set none of whose files could be read as an image."""

    def __init__(self, unreadable: dict[str, str]) -> None:
        example = next(iter(unreadable.values()), "")
        super().__init__(
            f"None of the {len(unreadable)} files could be read as an image (e.g. {example}). "
            "Give X-ray files (JPEG, PNG, BMP, TIFF or DICOM)."
        )


def score_site(predictor, labelled: LabelledFiles) -> ScoredSite:
    """Score every readable file of ``labelled`` with the predictor (as ``predict_test_set`` does:
    raw and calibrated probability); files that cannot be read are listed, not scored.

    Raises:
        NoReadableImageError: if no file could be read.
    """
    stored = read_stored_images(predictor, list(labelled.files["path"]))
    if not stored.sources:
        raise NoReadableImageError(stored.unreadable)
    rows = labelled.files[~labelled.files["path"].isin(list(stored.unreadable))].reset_index(drop=True)
    raw = predictor.raw_probabilities(stored.images)
    predictions = with_probabilities(rows, "raw_probability", raw, predictor.classes)
    predictions = with_probabilities(predictions, "probability", predictor.calibrate(raw), predictor.classes)
    return ScoredSite(predictions, stored.images, stored.unreadable, list(labelled.problems))


def site_report(predictor, scored: ScoredSite, reporting: Reporting, bins: int) -> SiteEvaluation:
    """The report of a scored site at the predictor's threshold and at 0.5 (``prediction_report``),
    with what it rests on: the model, the patients' source, the rows left out and the unreadable files."""
    predictions = scored.predictions
    report = {
        "model": predictor.name,
        **prediction_report(predictions, predictor.threshold, predictor.classes, reporting, bins),
        "patients_from": scored.patient_source,
        "left_out": scored.problems,
        "unreadable": scored.unreadable,
    }
    figures = {
        "confusion_matrix": plot_confusion_matrices(report, predictor.classes),
        "reliability": reliability_figure(
            {"site": set_reliability(predictions, predictor.classes, bins)},
            f"T = {_temperature(predictor):.2f}",
            len(predictor.classes) > 2,
        ),
    }
    if "roc_auc" in report:
        figures["roc_curve"] = plot_roc_curve(predictions, report, predictor.classes)
    return SiteEvaluation(report, scored, figures)


def _temperature(predictor) -> float:
    return float(predictor.config["calibration"]["temperature"])


def write_site_report(evaluation: SiteEvaluation, folder: str | Path) -> list[Path]:
    """Write ``report.json``, ``report.md``, ``predictions.csv`` and one PNG per figure into
    ``folder`` (created); returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / REPORT_FILE, folder / SUMMARY_FILE, folder / "predictions.csv"]
    written[0].write_text(json.dumps(evaluation.report, indent=2))
    written[1].write_text(report_markdown(evaluation.report))
    evaluation.scored.predictions.to_csv(written[2], index=False)
    for name, figure in evaluation.figures.items():
        written.append(folder / f"{name}.png")
        figure.savefig(written[-1], dpi=100)
    return written


def _figure(report: dict, key: str) -> str:
    value = report.get(key)
    if value is None:
        return "undefined"
    low, high = report.get(f"{key}_ci_low"), report.get(f"{key}_ci_high")
    return f"{value:.3f}" + (f" ({low:.3f}-{high:.3f})" if low is not None else "")


def report_markdown(report: dict) -> str:
    """The report's headline figures as Markdown: what a reader checks first, and what is missing."""
    counts = ", ".join(f"{count} {name}" for name, count in report["class_counts"].items())
    patients = ", ".join(f"{count} images: {source}" for source, count in report["patients_from"].items())
    rows = [
        ("accuracy", "accuracy"), ("sensitivity", "sensitivity"), ("specificity", "specificity"),
        ("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc"),
    ]
    lines = [
        f"# Evaluation of {report['model']}",
        "",
        f"{report['n_images']} images ({counts}), {report['n_patients']} patients (patients from {patients}).",
        "Intervals: 95% bootstrap over patients." if "accuracy_ci_low" in report else "",
        "",
        f"| figure | at the model's threshold {report['threshold']:.3f} | at 0.5 |",
        "|---|---|---|",
        *(f"| {label} | {_figure(report, key)} | {_figure(report, f'{key}_at_0.5') if key not in ('roc_auc', 'pr_auc') else ''} |"
          for label, key in rows),
        "",
        "| calibration | before | after |",
        "|---|---|---|",
        *(f"| {name.upper()} | {report[f'test_{name}_before']:.4f} | {report[f'test_{name}_after']:.4f} |"
          for name in ("nll", "ece", "brier")),
        "",
    ]
    lines += [f"- sensitivity, {name}: {report[f'sensitivity_{name}']:.3f} ({report[f'n_images_{name}']} images)"
              for name in ("bacteria", "virus") if f"sensitivity_{name}" in report]
    for title, entries in (
        ("Not defined on this set", [f"{key}: {why}" for key, why in report.get("undefined", {}).items()]),
        ("Left out", report["left_out"]),
        ("Unreadable files", [f"{path}: {why}" for path, why in report["unreadable"].items()]),
    ):
        if entries:
            lines += ["", f"## {title}", "", *(f"- {entry}" for entry in entries)]
    return "\n".join(lines) + "\n"
