"""The test report: calibrated predictions, metrics at the validation threshold and at 0.5 with
patient-bootstrap intervals, per patient, without duplicates and per subtype (its plots are in
``evaluation/plots.py``)."""

import numpy as np
import pandas as pd

from ...evaluation.duplicates import find_duplicates, pixel_hashes
from ...evaluation.frames import with_probabilities
from ...evaluation.multiclass import binary_view
from ...evaluation.report import calibration_figures, duplicate_figures, prediction_report
from ...inference import Predictor
from ...parameters import Reporting


def _rows_of(image_split: pd.DataFrame, paths: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``image_split`` for ``paths``, in that order; a ValueError if any is missing."""
    rows = image_split.set_index("path").reindex(paths)[columns]
    missing = rows.index[rows.isna().any(axis=1)]
    if len(missing):
        raise ValueError(
            f"{len(missing)} images (e.g. {list(missing[:3])}) are not in image_split: the image sets and "
            "image_split come from different runs. Rerun the data_preparation pipeline."
        )
    return rows.reset_index()


def predict_test_set(predictor: Predictor, test_set: dict, image_split: pd.DataFrame) -> pd.DataFrame:
    """One row per test image, scored by the predictor package that is served: path, patient, true
    class, the model's ``raw_probability`` of the positive class and the calibrated ``probability``
    the report uses (of every class, one column each, for a K-class model: ``evaluation.frames``)."""
    raw = predictor.raw_probabilities(test_set["images"])
    frame = pd.DataFrame(
        {
            "path": test_set["paths"],
            "patient_id": _rows_of(image_split, test_set["paths"], ["patient_id"])["patient_id"].to_numpy(),
            "label": np.asarray(predictor.classes)[test_set["labels"]],
            "target": test_set["labels"].astype(int),
        }
    )
    frame = with_probabilities(frame, "raw_probability", raw, predictor.classes)
    return with_probabilities(frame, "probability", predictor.calibrate(raw), predictor.classes)


def find_test_duplicates(test_set: dict, train_set: dict, image_split: pd.DataFrame) -> pd.DataFrame:
    """Test images byte-identical (same file hash) or pixel-identical (same stored array) to an
    earlier test image or to a training image, one row per pair (see ``find_duplicates``)."""

    def hashed(image_set: dict) -> pd.DataFrame:
        frame = _rows_of(image_split, image_set["paths"], ["content_hash"])
        return frame.assign(pixel_hash=pixel_hashes(image_set["images"]))

    return find_duplicates(hashed(test_set), hashed(train_set))


def compute_test_metrics(
    test_predictions: pd.DataFrame,
    decision_threshold: dict,
    calibration: dict,
    test_duplicates: pd.DataFrame,
    classes: list[str],
    reporting: Reporting,
) -> dict:
    """The test report, computed once from the (calibrated) test predictions.

    Top-level keys are at the threshold chosen on validation (``threshold``); the same metrics at
    the paper's 0.5 cut-off carry the suffix ``_at_0.5``. ``confusion_matrix`` is
    ``[[TN, FP], [FN, TP]]``: rows are true classes, columns predicted, in ``classes`` order.
    Beside them: the validation operating point, calibration before/after on validation and test,
    patient-bootstrap intervals (``_ci_low`` / ``_ci_high``), per-patient metrics (``patient_``),
    the metrics without duplicated test images (``_without_duplicates``) and sensitivity per
    pneumonia subtype. For a K-class model these binary figures are those of P(pneumonia) at the
    threshold, beside the K-class ones (``evaluation.multiclass``) and the validation accuracy and
    macro ROC-AUC of the argmax.
    """
    chosen = decision_threshold["threshold"]
    multiclass_validation = {
        key: float(decision_threshold[key]) for key in ("validation_accuracy", "validation_macro_roc_auc") if key in decision_threshold
    }
    return {
        **prediction_report(test_predictions, chosen, classes, reporting, calibration["bins"]),
        "threshold_method": decision_threshold["method"],
        "validation_sensitivity": float(decision_threshold["validation_sensitivity"]),
        "validation_specificity": float(decision_threshold["validation_specificity"]),
        **multiclass_validation,
        **calibration_figures(calibration),
        **duplicate_figures(binary_view(test_predictions, classes)[0], test_duplicates, chosen),
    }
