"""The statistics of the study: every model's test figures over seeds with patient bootstrap
intervals, and paired tests against the reference strategy with Holm's correction. A study of a
K-class task adds the figures of each image's most probable class and tests those."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation.bootstrap import group_bootstrap_intervals
from ..evaluation.comparison import holm_adjust, mcnemar_exact, mean_macro_roc_auc, paired_bootstrap_auc_difference
from ..evaluation.frames import pneumonia_targets, probability_columns, table_classes
from ..evaluation.metrics import core_metrics
from ..evaluation.multiclass import accuracy_and_macro_auc
from ..parameters import Study
from .parameters import model_strategy

# `study_predictions`: one row per (strategy, seed, test image). `target` is 0/1 (1 = PNEUMONIA), or the
# class index for a K-class task, `probability` the calibrated P(pneumonia) and `threshold` the
# validation-chosen threshold of that strategy+seed model (one value per model); a K-class table adds
# each class's calibrated probability (`study_prediction_columns`). Every model scores the same test images.
STUDY_PREDICTION_COLUMNS = ("strategy", "seed", "path", "patient_id", "target", "probability", "threshold")
# The binary figures, of P(pneumonia) at each model's threshold for a K-class task too.
STUDY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "sensitivity", "specificity")
# A K-class task's figures of each image's most probable class (``multiclass.accuracy_and_macro_auc``).
MULTICLASS_STUDY_METRICS = ("multiclass_accuracy", "multiclass_macro_roc_auc")


def study_prediction_columns(classes: list[str]) -> list[str]:
    """The columns of ``study_predictions`` for a task of ``classes``: ``STUDY_PREDICTION_COLUMNS`` and,
    for more than two classes, each class's calibrated probability (``probability_<CLASS>``)."""
    return list(dict.fromkeys(STUDY_PREDICTION_COLUMNS + tuple(probability_columns("probability", classes))))


def study_metrics(multiclass: bool) -> tuple[str, ...]:
    """The figures the comparison reports: the binary ones, after the K-class ones for a K-class task."""
    return MULTICLASS_STUDY_METRICS + STUDY_METRICS if multiclass else STUDY_METRICS


def tested_metric(multiclass: bool) -> str:
    """The figure whose seed-mean difference from the reference is bootstrapped: the ROC-AUC of
    P(pneumonia), or the macro one-vs-rest ROC-AUC of a K-class task."""
    return "multiclass_macro_roc_auc" if multiclass else "roc_auc"


def comparison_columns(multiclass: bool) -> tuple[str, ...]:
    """The columns of the comparison table (``compare_strategies``) of a two-class or a K-class study."""
    summaries = ("mean", "std", "ci_low", "ci_high")
    difference = ("", "_ci_low", "_ci_high", "_p", "_p_holm", "_significant")
    return (
        ("strategy", "reference", "n_seeds", "n_images", "n_patients")
        + tuple(f"{metric}_{part}" for metric in study_metrics(multiclass) for part in summaries)
        + tuple(f"{tested_metric(multiclass)}_difference{part}" for part in difference)
        + ("mcnemar_b", "mcnemar_c", "mcnemar_p", "mcnemar_p_holm", "mcnemar_significant")
    )


COMPARISON_COLUMNS = comparison_columns(multiclass=False)


def is_multiclass(comparison: pd.DataFrame) -> bool:
    """Whether a comparison table (as saved or read back from its CSV) is that of a K-class study."""
    return f"{MULTICLASS_STUDY_METRICS[0]}_mean" in comparison.columns


@dataclass(frozen=True)
class SeedModels:
    """One strategy's models (one per seed) on the test images: P(pneumonia) (images x seeds), each
    seed's threshold and, for a K-class task, every class's probability (images x seeds x classes)."""

    probabilities: np.ndarray
    thresholds: np.ndarray
    class_probabilities: np.ndarray | None

    def of_seed(self, column: int) -> "SeedModels":
        """The model of the seed at ``column`` alone."""
        classes = None if self.class_probabilities is None else self.class_probabilities[:, [column]]
        return SeedModels(self.probabilities[:, [column]], self.thresholds[[column]], classes)

    def on_images(self, rows: np.ndarray) -> "SeedModels":
        """The models on the images at ``rows`` (a bootstrap resample repeats rows)."""
        classes = None if self.class_probabilities is None else self.class_probabilities[rows]
        return SeedModels(self.probabilities[rows], self.thresholds, classes)

    def correct(self, targets: np.ndarray) -> np.ndarray:
        """Whether each image's call is right, per seed (images x seeds): the most probable class of a
        K-class model, P(pneumonia) >= threshold of a two-class one."""
        if self.class_probabilities is not None:
            return np.argmax(self.class_probabilities, axis=2) == targets[:, np.newaxis]
        return (self.probabilities >= self.thresholds) == targets[:, np.newaxis]


def _check_classes(images: pd.DataFrame, classes: list[str]) -> None:
    """Raise a ValueError unless a K-class table's targets are its class indices, every class present
    (the macro ROC-AUC needs each)."""
    present = sorted(images["target"].unique().tolist())
    if len(classes) < 3 or present != list(range(len(classes))):
        raise ValueError(
            f"study_predictions has a probability column per class of {classes} and the targets {present}: a "
            f"K-class study needs three classes or more and every class index from 0 to {len(classes) - 1} among the "
            "test images. Rerun the study on a test split that holds every class."
        )


def _models_by_image(study_predictions: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict[str, SeedModels]]:
    """The test images (path -> patient_id, target) and each strategy's models on them, the
    reference first; raises where the table cannot be compared honestly."""
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
    classes = table_classes(predictions, "probability")
    if classes is not None:
        _check_classes(images, classes)
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

        def by_image(column: str, rows: pd.DataFrame = rows) -> pd.DataFrame:
            return rows.pivot(index="path", columns="seed", values=column).loc[images.index]

        probabilities = by_image("probability")
        class_probabilities = None
        if classes is not None:
            columns = probability_columns("probability", classes)
            class_probabilities = np.stack([by_image(column).to_numpy() for column in columns], axis=2)
        thresholds = rows.groupby("seed")["threshold"].first().loc[probabilities.columns].to_numpy()
        models[strategy] = SeedModels(probabilities.to_numpy(), thresholds, class_probabilities)
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


def _seed_mean_figures(targets: np.ndarray, models: SeedModels) -> dict[str, float]:
    """Every figure of the comparison averaged over the models' seeds: the binary ones of P(pneumonia)
    and, for a K-class task, those of the most probable class where every seed defines them."""
    if models.class_probabilities is None:
        return _seed_mean_metrics(targets, models.probabilities, models.thresholds)
    n_classes = models.class_probabilities.shape[2]
    figures = _seed_mean_metrics(pneumonia_targets(targets, n_classes), models.probabilities, models.thresholds)
    seeds = np.moveaxis(models.class_probabilities, 1, 0)
    per_seed = pd.DataFrame([accuracy_and_macro_auc(targets, probabilities) for probabilities in seeds])
    return figures | {name: float(values.mean()) for name, values in per_seed.items() if values.notna().all()}


def _difference_of_tested_metric(
    targets: np.ndarray, reference: SeedModels, other: SeedModels, patients: np.ndarray, bootstrap: tuple
) -> dict:
    """The paired patient bootstrap (``bootstrap``: resamples, seed, confidence) of ``tested_metric``'s
    seed-mean difference, other minus reference."""
    if reference.class_probabilities is None:
        return paired_bootstrap_auc_difference(targets, reference.probabilities, other.probabilities, patients, *bootstrap)
    return paired_bootstrap_auc_difference(
        targets, reference.class_probabilities, other.class_probabilities, patients, *bootstrap, auc=mean_macro_roc_auc
    )


def compare_strategies(study_predictions: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Per strategy: test metrics over seeds with patient intervals and, against the reference,
    paired tests with Holm's correction (columns ``comparison_columns``, the reference first).

    Metrics are at each model's own threshold; ``_mean``/``_std`` are over seeds (std with ddof 1).
    The interval is that of the seed mean: each resample of whole patients (within class) recomputes
    every seed's metric and averages them. McNemar compares each image's majority-vote correctness
    over seeds (a tie counts as wrong); the ROC-AUC difference is that of the seed-mean ROC-AUC.

    A K-class table (``probability_<CLASS>`` columns, class-index targets) adds the argmax accuracy
    and macro one-vs-rest ROC-AUC (``MULTICLASS_STUDY_METRICS``; the binary figures are of
    P(pneumonia)); its McNemar test is on the most probable class's correctness and its bootstrap
    difference that of the seed-mean macro ROC-AUC, in place of the binary calls and ROC-AUC.
    """
    images, models = _models_by_image(study_predictions, study)
    targets, patients = images["target"].to_numpy().astype(int), images["patient_id"].to_numpy()
    reference = study.reference_strategy
    multiclass = models[reference].class_probabilities is not None
    tested = tested_metric(multiclass)
    bootstrap = (study.bootstrap_resamples, study.bootstrap_seed, study.confidence_level)

    def majority_correct(candidate: SeedModels) -> np.ndarray:
        return candidate.correct(targets).mean(axis=1) > 0.5

    table_rows = []
    for strategy, seed_models in models.items():
        n_seeds = len(seed_models.thresholds)
        row = {"strategy": strategy, "reference": reference, "n_seeds": n_seeds}
        row |= {"n_images": len(images), "n_patients": images["patient_id"].nunique()}
        per_seed = pd.DataFrame([_seed_mean_figures(targets, seed_models.of_seed(seed)) for seed in range(n_seeds)])

        def seed_mean_on(rows: np.ndarray, seed_models: SeedModels = seed_models) -> dict[str, float]:
            return _seed_mean_figures(targets[rows], seed_models.on_images(rows))

        intervals = group_bootstrap_intervals(patients, seed_mean_on, *bootstrap[:2], confidence=bootstrap[2], strata=targets)
        for metric in study_metrics(multiclass):
            values = per_seed[metric] if metric in per_seed else pd.Series(dtype=float)
            low, high = intervals.get(metric, (np.nan, np.nan))
            row |= {f"{metric}_mean": values.mean(), f"{metric}_std": values.std(ddof=1), f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        if strategy != reference:
            difference = _difference_of_tested_metric(targets, models[reference], seed_models, patients, bootstrap)
            mcnemar = mcnemar_exact(majority_correct(models[reference]), majority_correct(seed_models))
            row |= {f"{tested}_difference": difference["difference"], f"{tested}_difference_ci_low": difference["ci_low"]}
            row |= {f"{tested}_difference_ci_high": difference["ci_high"], f"{tested}_difference_p": difference["p_value"]}
            row |= {"mcnemar_b": mcnemar["b"], "mcnemar_c": mcnemar["c"], "mcnemar_p": mcnemar["p_value"]}
        table_rows.append(row)
    comparison = pd.DataFrame(table_rows).reindex(columns=comparison_columns(multiclass))
    others = comparison["strategy"] != reference
    for test in (f"{tested}_difference", "mcnemar"):
        adjusted = holm_adjust(dict(zip(comparison.loc[others, "strategy"], comparison.loc[others, f"{test}_p"])))
        comparison[f"{test}_p_holm"] = comparison["strategy"].map(adjusted)
        comparison[f"{test}_significant"] = (comparison[f"{test}_p_holm"] < study.significance_level).where(others)
    return comparison
