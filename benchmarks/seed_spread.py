"""Seed spread and seed agreement of trained configurations, from their reports: how much the
validation, stress-report and shortcut-audit figures move when only the training seed changes, how
often two seeds of one configuration call a validation image differently (at each model's own
calibrated threshold), and how firmly validation fixes the operating point (the standard deviation
of the threshold over resamples of validation, for the plain and the bootstrap-median estimator).
No test split is read.

Each run is a folder named <configuration>-seed<seed> holding what one `kedro run --pipeline
baseline` wrote (copied from data/): predictor/predictor.json, validation_predictions.csv,
stress_metrics.json and shortcut_audit.json (a Kedro version folder of each is fine).

Run from the project root:  python benchmarks/seed_spread.py <folder of run folders>
"""

import argparse
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from pediatric_pneumonia.evaluation.thresholds import choose_threshold
from pediatric_pneumonia.parameters import check_parameters

RESAMPLES = 40


def newest(folder: Path, name: str) -> Path:
    """The file ``name`` under ``folder``: the newest of its Kedro versions when there are several."""
    return sorted(path for path in folder.rglob(name) if path.is_file())[-1]


def read_run(folder: Path) -> dict:
    predictions = pd.read_csv(next(folder.rglob("validation_predictions.csv")))
    return {
        "predictor": json.loads(newest(folder / "predictor", "predictor.json").read_text()),
        "stress": json.loads(newest(folder, "stress_metrics.json").read_text()),
        "audit": json.loads(newest(folder, "shortcut_audit.json").read_text()),
        "predictions": predictions.sort_values("path").reset_index(drop=True),
    }


def calibrated(run: dict) -> np.ndarray:
    """Each validation image's calibrated probability."""
    raw = np.clip(run["predictions"]["raw_probability"].to_numpy(np.float64), 1e-7, 1 - 1e-7)
    return expit(logit(raw) / run["predictor"]["calibration"].get("temperature", 1.0))


def calibrated_labels(run: dict) -> np.ndarray:
    """Each validation image's label at the model's own threshold, on its calibrated probability."""
    return calibrated(run) >= run["predictor"]["decision"]["threshold"]


def bootstrap_median_threshold(run: dict) -> float:
    """The threshold ``threshold.bootstrap_resamples: 200`` would have chosen for this model."""
    settings = check_parameters("threshold", {"method": "youden", "bootstrap_resamples": 200})
    return choose_threshold(run["predictions"]["target"].to_numpy(), calibrated(run), settings)["threshold"]


def threshold_spread(run: dict, rng: np.random.Generator) -> tuple[float, float]:
    """Standard deviation of the threshold ``choose_threshold`` picks (Youden, raw probabilities)
    with one cut-off and with the median of 50 resamples, over RESAMPLES class-stratified resamples
    of validation."""
    labels = run["predictions"]["target"].to_numpy()
    scores = run["predictions"]["raw_probability"].to_numpy(np.float64)
    by_class = [np.flatnonzero(labels == value) for value in (0, 1)]
    single = check_parameters("threshold", {"method": "youden"})
    plain, smoothed = [], []
    for index in range(RESAMPLES):
        drawn = np.concatenate([rng.choice(members, len(members)) for members in by_class])
        plain.append(choose_threshold(labels[drawn], scores[drawn], single)["threshold"])
        resampled = single.model_copy(update={"bootstrap_resamples": 50, "seed": index})
        smoothed.append(choose_threshold(labels[drawn], scores[drawn], resampled)["threshold"])
    return float(np.std(plain)), float(np.std(smoothed))


FIGURES = {
    "validation ROC-AUC": lambda run: run["predictor"]["validation"]["roc_auc"],
    "threshold": lambda run: run["predictor"]["decision"]["threshold"],
    "threshold, bootstrap median of 200": bootstrap_median_threshold,
    "validation sensitivity": lambda run: run["predictor"]["decision"]["validation_sensitivity"],
    "validation specificity": lambda run: run["predictor"]["decision"]["validation_specificity"],
    "stress ROC-AUC mean": lambda run: run["stress"]["validation.roc_auc_mean"],
    "stress ROC-AUC worst": lambda run: run["stress"]["validation.roc_auc_worst"],
    "stress specificity mean": lambda run: run["stress"]["validation.specificity_mean"],
    "stress specificity worst": lambda run: run["stress"]["validation.specificity_worst"],
    "stress sensitivity mean": lambda run: run["stress"]["validation.sensitivity_mean"],
    "crop 3 specificity": lambda run: run["stress"]["validation.crop.3.specificity"],
    "blur 3 specificity": lambda run: run["stress"]["validation.blur.3.specificity"],
    "markers 3 sensitivity": lambda run: run["stress"]["validation.markers.3.sensitivity"],
    "sharpness sensitivity slope": lambda run: run["audit"]["validation.sharpness.sensitivity_slope"],
    "Grad-CAM border mass": lambda run: run["audit"]["gradcam.border_mass_share_mean"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="a folder of <configuration>-seed<seed> run folders")
    arguments = parser.parse_args()
    configurations: dict[str, dict[int, dict]] = {}
    for folder in sorted(arguments.runs.iterdir()):
        match = re.fullmatch(r"(.+)-seed(\d+)", folder.name)
        if match and folder.is_dir() and any(folder.rglob("validation_predictions.csv")):
            configurations.setdefault(match[1], {})[int(match[2])] = read_run(folder)
    rng = np.random.default_rng(0)
    rows = []
    for name, runs in configurations.items():
        row = {"configuration": name, "seeds": ",".join(str(seed) for seed in runs)}
        for figure, read in FIGURES.items():
            values = np.array([read(run) for run in runs.values()])
            row[figure] = f"{values.mean():.3f}" + (f" ({values.min():.3f}-{values.max():.3f})" if len(values) > 1 else "")
        pairs = list(itertools.combinations(runs.values(), 2))
        if pairs:
            disagreement = [np.mean(calibrated_labels(a) != calibrated_labels(b)) for a, b in pairs]
            row["validation images two seeds call differently"] = f"{np.mean(disagreement):.4f}"
        spreads = np.array([threshold_spread(run, rng) for run in runs.values()])
        row["threshold sd: Youden / bootstrap median"] = f"{spreads[:, 0].mean():.4f} / {spreads[:, 1].mean():.4f}"
        rows.append(row)
    print(pd.DataFrame(rows).set_index("configuration").T.to_string())


if __name__ == "__main__":
    main()
