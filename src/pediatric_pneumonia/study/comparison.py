"""The statistics of the study: every model's test figures over seeds with patient bootstrap
intervals, and paired tests against the reference strategy with Holm's correction."""

import numpy as np
import pandas as pd

from ..evaluation.bootstrap import group_bootstrap_intervals
from ..evaluation.comparison import holm_adjust, mcnemar_exact, paired_bootstrap_auc_difference
from ..evaluation.metrics import core_metrics
from ..parameters import Study
from .parameters import model_strategy

# `study_predictions`: one row per (strategy, seed, test image). `target` is 0/1 (1 = PNEUMONIA),
# `probability` the calibrated probability and `threshold` the validation-chosen threshold of that
# strategy+seed model (one value per model). Every model scores the same test images.
STUDY_PREDICTION_COLUMNS = ("strategy", "seed", "path", "patient_id", "target", "probability", "threshold")
STUDY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "sensitivity", "specificity")
COMPARISON_COLUMNS = (
    ("strategy", "reference", "n_seeds", "n_images", "n_patients")
    + tuple(f"{metric}_{part}" for metric in STUDY_METRICS for part in ("mean", "std", "ci_low", "ci_high"))
    + tuple(f"roc_auc_difference{part}" for part in ("", "_ci_low", "_ci_high", "_p", "_p_holm", "_significant"))
    + ("mcnemar_b", "mcnemar_c", "mcnemar_p", "mcnemar_p_holm", "mcnemar_significant")
)


def _models_by_image(study_predictions: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict]:
    """The test images (path -> patient_id, target) and, per strategy, its probabilities (images x
    seeds) and thresholds (per seed); raises where the table cannot be compared honestly."""
    missing = [column for column in STUDY_PREDICTION_COLUMNS if column not in study_predictions.columns]
    if missing:
        raise ValueError(f"study_predictions lacks the columns {missing}; it needs {list(STUDY_PREDICTION_COLUMNS)}.")
    predictions = study_predictions
    if study.strategies is not None:
        predictions = predictions[predictions["strategy"].map(model_strategy).isin(study.strategies)]
    strategies = list(dict.fromkeys(predictions["strategy"]))
    if study.reference_strategy not in strategies:
        raise ValueError(
            f"study_predictions holds no predictions of the reference '{study.reference_strategy}' (it holds "
            f"{strategies}). Run the study with the reference strategy, or change study.reference_strategy."
        )
    images = predictions.drop_duplicates("path").set_index("path")[["patient_id", "target"]].sort_index()
    if len(predictions.drop_duplicates(["path", "patient_id", "target"])) != len(images):
        raise ValueError("study_predictions gives one test image two patients or two targets; each path needs one of each.")
    models = {}
    for strategy in [study.reference_strategy] + [name for name in strategies if name != study.reference_strategy]:
        rows = predictions[predictions["strategy"] == strategy]
        counts = rows.groupby("seed")["path"].agg(["size", "nunique"])
        incomplete = counts[(counts["size"] != len(images)) | (counts["nunique"] != len(images))]
        if len(incomplete):
            raise ValueError(
                f"Every model must score each of the {len(images)} test images once (paired tests need it), but "
                f"{strategy} seed(s) {incomplete.index.tolist()} score {incomplete['size'].tolist()} rows. Rerun those models."
            )
        if (rows.groupby("seed")["threshold"].nunique() > 1).any():
            raise ValueError(f"{strategy}: one model has several thresholds; each strategy+seed model has one.")
        probabilities = rows.pivot(index="path", columns="seed", values="probability").loc[images.index]
        models[strategy] = (probabilities, rows.groupby("seed")["threshold"].first().loc[probabilities.columns])
    return images, models


def _seed_mean_metrics(targets: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    """Each metric averaged over the seed columns, where every seed defines it.

    Precision and F1 as ``headline_metrics`` defines them, without its PR-AUC: that one is not
    reported and would make each of the thousands of bootstrap evaluations eight times slower.
    """
    per_seed = []
    for column, threshold in enumerate(thresholds):
        metrics = core_metrics(targets, probabilities[:, column], float(threshold))
        called, positives = probabilities[:, column] >= threshold, targets == 1
        metrics["recall"] = metrics.get("sensitivity", np.nan)
        if called.any():
            metrics["precision"] = float(positives[called].mean())
            metrics["f1"] = float(2 * (called & positives).sum() / (called.sum() + positives.sum()))
        per_seed.append([metrics.get(metric, np.nan) for metric in STUDY_METRICS])
    means = np.mean(per_seed, axis=0)
    return {metric: float(value) for metric, value in zip(STUDY_METRICS, means) if np.isfinite(value)}


def compare_strategies(study_predictions: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Per strategy: test metrics over seeds with patient intervals and, against the reference,
    paired tests with Holm's correction (columns ``COMPARISON_COLUMNS``, the reference first).

    Metrics are at each model's own threshold; ``_mean``/``_std`` are over seeds (std with ddof 1).
    The interval is that of the seed mean: each resample of whole patients (within class) recomputes
    every seed's metric and averages them. McNemar compares each image's majority-vote correctness
    over seeds (a tie counts as wrong); the ROC-AUC difference is that of the seed-mean ROC-AUC.
    """
    images, models = _models_by_image(study_predictions, study)
    targets, patients = images["target"].to_numpy().astype(int), images["patient_id"].to_numpy()
    reference = study.reference_strategy
    bootstrap = (study.bootstrap_resamples, study.bootstrap_seed, study.confidence_level)

    def majority_correct(probabilities: pd.DataFrame, thresholds: pd.Series) -> np.ndarray:
        correct = (probabilities.to_numpy() >= thresholds.to_numpy()) == targets[:, np.newaxis]
        return correct.mean(axis=1) > 0.5

    table_rows = []
    for strategy, (probabilities, thresholds) in models.items():
        matrix, cutoffs = probabilities.to_numpy(), thresholds.to_numpy()
        row = {"strategy": strategy, "reference": reference, "n_seeds": matrix.shape[1]}
        row |= {"n_images": len(images), "n_patients": images["patient_id"].nunique()}
        per_seed = pd.DataFrame([_seed_mean_metrics(targets, matrix[:, [seed]], cutoffs[[seed]]) for seed in range(len(cutoffs))])

        def seed_mean_on(rows: np.ndarray, matrix: np.ndarray = matrix, cutoffs: np.ndarray = cutoffs) -> dict[str, float]:
            return _seed_mean_metrics(targets[rows], matrix[rows], cutoffs)

        intervals = group_bootstrap_intervals(patients, seed_mean_on, *bootstrap[:2], confidence=bootstrap[2], strata=targets)
        for metric in STUDY_METRICS:
            values = per_seed[metric] if metric in per_seed else pd.Series(dtype=float)
            low, high = intervals.get(metric, (np.nan, np.nan))
            row |= {f"{metric}_mean": values.mean(), f"{metric}_std": values.std(ddof=1), f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        if strategy != reference:
            auc = paired_bootstrap_auc_difference(targets, models[reference][0].to_numpy(), matrix, patients, *bootstrap)
            mcnemar = mcnemar_exact(majority_correct(*models[reference]), majority_correct(probabilities, thresholds))
            row |= {"roc_auc_difference": auc["difference"], "roc_auc_difference_ci_low": auc["ci_low"]}
            row |= {"roc_auc_difference_ci_high": auc["ci_high"], "roc_auc_difference_p": auc["p_value"]}
            row |= {"mcnemar_b": mcnemar["b"], "mcnemar_c": mcnemar["c"], "mcnemar_p": mcnemar["p_value"]}
        table_rows.append(row)
    comparison = pd.DataFrame(table_rows).reindex(columns=COMPARISON_COLUMNS)
    others = comparison["strategy"] != reference
    for test in ("roc_auc_difference", "mcnemar"):
        adjusted = holm_adjust(dict(zip(comparison.loc[others, "strategy"], comparison.loc[others, f"{test}_p"])))
        comparison[f"{test}_p_holm"] = comparison["strategy"].map(adjusted)
        comparison[f"{test}_significant"] = (comparison[f"{test}_p_holm"] < study.significance_level).where(others)
    return comparison
