"""Validation and stress-report figures of three-class (subtype task) configurations over seeds, to
choose that task's default: for every configuration, the mean (and range over seeds) of the
three-class figures that the report computes (``evaluation.multiclass.multiclass_figures``, on each
model's calibrated validation probabilities), its binary answer from P(pneumonia) at its own
validation threshold, and its stress report. No test split is read.

It also asks whether vector scaling (a scale and a bias per class on the log-probabilities, Guo et
al. 2017) would calibrate better than the one temperature the package fits: the negative
log-likelihood of each, fitted on four fifths of validation's patients and scored on the rest, over
five folds.

Each run is a folder named <configuration>-seed<seed> holding what one `kedro run --env subtype
--pipeline <strategy>` wrote (copied from data/subtype/): predictor/predictor.json,
validation_predictions.csv, stress_metrics.json and shortcut_audit.json (a Kedro version folder of
each is fine).

Run from the project root:  python benchmarks/subtype_spread.py <folder of run folders>
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.model_selection import GroupKFold

from pediatric_pneumonia.evaluation.calibration import (
    apply_calibration,
    fit_temperature,
    log_probabilities,
    negative_log_likelihood,
)
from pediatric_pneumonia.evaluation.frames import probabilities_of, with_probabilities
from pediatric_pneumonia.evaluation.multiclass import multiclass_figures
from pediatric_pneumonia.naming import patient_id_from_filename
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.project_config import load_project_config

RELIABILITY_BINS = 10
FOLDS = 5


def newest(folder: Path, name: str) -> Path:
    """The file ``name`` under ``folder``: the newest of its Kedro versions when there are several."""
    return sorted(path for path in folder.rglob(name) if path.is_file())[-1]


def vector_scaled(log_probabilities: np.ndarray, parameters: np.ndarray) -> np.ndarray:
    """softmax(scale * log p + bias), one scale and one bias per class."""
    classes = log_probabilities.shape[1]
    return softmax(log_probabilities * parameters[:classes] + parameters[classes:], axis=1)


def fit_vector_scaling(targets: np.ndarray, log_probabilities: np.ndarray) -> np.ndarray:
    """The per-class scales and biases of least negative log-likelihood on these images."""
    classes = log_probabilities.shape[1]
    start = np.concatenate([np.ones(classes), np.zeros(classes)])
    fitted = minimize(
        lambda parameters: negative_log_likelihood(targets, vector_scaled(log_probabilities, parameters)), start, method="L-BFGS-B"
    )
    return fitted.x


def held_out_nll(predictions: pd.DataFrame, raw: np.ndarray) -> dict[str, float]:
    """Out-of-fold NLL of the one temperature and of vector scaling, five patient-grouped folds."""
    targets = predictions["target"].to_numpy(dtype=int)
    logs = log_probabilities(raw)
    scored = {"one temperature": np.empty_like(raw), "vector scaling": np.empty_like(raw)}
    for fitting, held_out in GroupKFold(n_splits=FOLDS).split(raw, targets, predictions["patient_id"]):
        temperature = fit_temperature(targets[fitting], raw[fitting])
        scored["one temperature"][held_out] = apply_calibration(raw[held_out], {"temperature": temperature})
        scored["vector scaling"][held_out] = vector_scaled(logs[held_out], fit_vector_scaling(targets[fitting], logs[fitting]))
    return {f"held-out NLL, {name}": negative_log_likelihood(targets, values) for name, values in scored.items()}


def validation_figures(folder: Path, reporting) -> dict[str, float]:
    """The three-class report's figures on one run's validation predictions, calibrated as its package is,
    with its validation operating point and its stress summary."""
    predictor = json.loads(newest(folder / "predictor", "predictor.json").read_text())
    classes = predictor["classes"]
    predictions = pd.read_csv(newest(folder, "validation_predictions.csv"))
    predictions["patient_id"] = [patient_id_from_filename(Path(path).name) or path for path in predictions["path"]]
    raw = probabilities_of(predictions, "raw_probability", classes)
    calibrated = with_probabilities(predictions, "probability", apply_calibration(raw, predictor["calibration"]), classes)
    figures = multiclass_figures(calibrated, classes, reporting, RELIABILITY_BINS)
    stress = json.loads(newest(folder, "stress_metrics.json").read_text())
    audit = json.loads(newest(folder, "shortcut_audit.json").read_text())
    decision = predictor["decision"]
    return {
        "three-class accuracy": figures["multiclass_accuracy"],
        "macro one-vs-rest ROC-AUC": figures["multiclass_macro_roc_auc"],
        "bacteria-vs-virus ROC-AUC": figures["bacteria_vs_virus_roc_auc"],
        **{f"recall {name}": figures[f"recall_{name}"] for name in classes},
        "macro F1": figures["multiclass_macro_f1"],
        "NLL after calibration": figures["test_multiclass_nll_after"],
        **held_out_nll(predictions, raw),
        "P(pneumonia) ROC-AUC": predictor["validation"]["roc_auc"],
        "sensitivity at the threshold": decision["validation_sensitivity"],
        "specificity at the threshold": decision["validation_specificity"],
        "stress three-class accuracy mean": stress["validation.multiclass_accuracy_mean"],
        "stress three-class accuracy worst": stress["validation.multiclass_accuracy_worst"],
        "stress specificity mean": stress["validation.specificity_mean"],
        "stress specificity worst": stress["validation.specificity_worst"],
        # nan for runs made before the stress report and the audit had per-class figures
        "stress VIRUS recall worst": stress.get("validation.recall_VIRUS_worst", np.nan),
        "shortcut audit: properties tell bacteria from virus (ROC-AUC)": audit.get(
            "train.bacteria_vs_virus.combined.roc_auc", np.nan
        ),
        "shortcut audit: properties tell NORMAL from pneumonia (ROC-AUC)": audit["train.combined.roc_auc"],
    }


def summary(values: np.ndarray) -> str:
    """The mean and range over seeds of the runs that have the figure ("n/a" if none has it)."""
    found = values[np.isfinite(values)]
    if not len(found):
        return "n/a"
    text = f"{found.mean():.3f}" + (f" ({found.min():.3f}-{found.max():.3f})" if len(found) > 1 else "")
    return text + (f" [{len(found)} of {len(values)} runs]" if len(found) < len(values) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="a folder of <configuration>-seed<seed> run folders")
    arguments = parser.parse_args()
    reporting = check_parameters("reporting", load_project_config(Path.cwd(), "parameters")["reporting"])
    configurations: dict[str, dict[int, dict]] = {}
    for folder in sorted(arguments.runs.iterdir()):
        match = re.fullmatch(r"(.+)-seed(\d+)", folder.name)
        if match and folder.is_dir() and any(folder.rglob("validation_predictions.csv")):
            configurations.setdefault(match[1], {})[int(match[2])] = validation_figures(folder, reporting)
    rows = []
    for name, runs in configurations.items():
        row = {"configuration": name, "seeds": ",".join(str(seed) for seed in runs)}
        for figure in next(iter(runs.values())):
            row[figure] = summary(np.array([run[figure] for run in runs.values()], dtype=float))
        rows.append(row)
    print(pd.DataFrame(rows).set_index("configuration").T.to_string())


if __name__ == "__main__":
    main()
