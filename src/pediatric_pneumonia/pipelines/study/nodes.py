"""The strategy x seed study: every strategy's test predictions over seeds, compared with the reference."""


import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...evaluation.bootstrap import group_bootstrap_intervals
from ...evaluation.comparison import holm_adjust, mcnemar_exact, paired_bootstrap_auc_difference
from ...evaluation.metrics import core_metrics

# `study_predictions`: one row per (strategy, seed, test image). `target` is 0/1 (1 = PNEUMONIA),
# `probability` the calibrated probability and `threshold` the validation-chosen threshold of that
# strategy+seed model (one value per model). Every model scores the same test images.
STUDY_PREDICTION_COLUMNS = ("strategy", "seed", "path", "patient_id", "target", "probability", "threshold")
STUDY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "sensitivity", "specificity")
# A synthetic-image strategy trained with a listed GAN profile is compared as "<strategy>@<profile>".
GAN_PROFILE_SEPARATOR = "@"
COMPARISON_COLUMNS = (
    ("strategy", "reference", "n_seeds", "n_images", "n_patients")
    + tuple(f"{metric}_{part}" for metric in STUDY_METRICS for part in ("mean", "std", "ci_low", "ci_high"))
    + tuple(f"roc_auc_difference{part}" for part in ("", "_ci_low", "_ci_high", "_p", "_p_holm", "_significant"))
    + ("mcnemar_b", "mcnemar_c", "mcnemar_p", "mcnemar_p_holm", "mcnemar_significant")
)






def model_label(strategy: str, gan_profile: str) -> str:
    """How the study names a synthetic-image strategy trained with one GAN profile (``gan@cpu_stable``)."""
    return f"{strategy}{GAN_PROFILE_SEPARATOR}{gan_profile}"


def model_strategy(model: str) -> str:
    """The strategy of a study model name (``gan@cpu_stable`` -> ``gan``)."""
    return model.split(GAN_PROFILE_SEPARATOR, 1)[0]


def _models_by_image(study_predictions: pd.DataFrame, study: dict) -> tuple[pd.DataFrame, dict]:
    """The test images (path -> patient_id, target) and, per strategy, its probabilities (images x
    seeds) and thresholds (per seed); raises where the table cannot be compared honestly."""
    missing = [column for column in STUDY_PREDICTION_COLUMNS if column not in study_predictions.columns]
    if missing:
        raise ValueError(f"study_predictions lacks the columns {missing}; it needs {list(STUDY_PREDICTION_COLUMNS)}.")
    predictions = study_predictions
    if study.get("strategies") is not None:
        predictions = predictions[predictions["strategy"].map(model_strategy).isin(study["strategies"])]
    strategies = list(dict.fromkeys(predictions["strategy"]))
    if study["reference_strategy"] not in strategies:
        raise ValueError(
            f"study_predictions holds no predictions of the reference '{study['reference_strategy']}' (it holds "
            f"{strategies}). Run the study with the reference strategy, or change study.reference_strategy."
        )
    images = predictions.drop_duplicates("path").set_index("path")[["patient_id", "target"]].sort_index()
    if len(predictions.drop_duplicates(["path", "patient_id", "target"])) != len(images):
        raise ValueError("study_predictions gives one test image two patients or two targets; each path needs one of each.")
    models = {}
    for strategy in [study["reference_strategy"]] + [name for name in strategies if name != study["reference_strategy"]]:
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


def compare_strategies(study_predictions: pd.DataFrame, study: dict) -> pd.DataFrame:
    """Per strategy: test metrics over seeds with patient intervals and, against the reference,
    paired tests with Holm's correction (columns ``COMPARISON_COLUMNS``, the reference first).

    Metrics are at each model's own threshold; ``_mean``/``_std`` are over seeds (std with ddof 1).
    The interval is that of the seed mean: each resample of whole patients (within class) recomputes
    every seed's metric and averages them. McNemar compares each image's majority-vote correctness
    over seeds (a tie counts as wrong); the ROC-AUC difference is that of the seed-mean ROC-AUC.
    """
    images, models = _models_by_image(study_predictions, study)
    targets, patients = images["target"].to_numpy().astype(int), images["patient_id"].to_numpy()
    reference = study["reference_strategy"]
    bootstrap = (study["bootstrap_resamples"], study["bootstrap_seed"], study["confidence_level"])

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
        comparison[f"{test}_significant"] = (comparison[f"{test}_p_holm"] < study["significance_level"]).where(others)
    return comparison


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "\u2212")


def _cell(row: pd.Series, metric: str) -> str:
    spread = "" if pd.isna(row[f"{metric}_std"]) else f" ± {row[f'{metric}_std']:.3f}"
    interval = "" if pd.isna(row[f"{metric}_ci_low"]) else f" [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"
    return "n/a" if pd.isna(row[f"{metric}_mean"]) else f"{row[f'{metric}_mean']:.3f}{spread}{interval}"


def _bootstrap_p(p_value: float, comparisons: int, study: dict) -> str:
    """'= p', or a bound where no resample crossed zero (the raw p is then below 1 / resamples)."""
    return f"< {comparisons / study['bootstrap_resamples']:.2g}" if p_value == 0 else f"= {p_value:.2g}"


def _protocol(comparison: pd.DataFrame, study: dict) -> str:
    gan = (
        " and, for the strategies that use synthetic images, the GAN that makes them"
        if study["retrain_gan_per_seed"]
        else "; the GAN and its synthetic images are made once and shared by every seed"
    )
    if study.get("gan_profiles"):
        gan += (
            f"; the strategies that use synthetic images were trained with each of the GAN profiles "
            f"{', '.join(study['gan_profiles'])} (named strategy{GAN_PROFILE_SEPARATOR}profile)"
        )
    level = f"{100 * study['confidence_level']:g}%"
    return (
        "**Protocol.** Each strategy's classifier was trained on the training patients (the public train split less "
        "the patients held out for validation), balanced as the strategy prescribes; its training epochs, probability "
        "calibration and decision threshold were chosen on the validation patients only, and the test split was read "
        f"once per model, after all of that was fixed. Each of the {len(comparison)} models compared was trained with "
        f"{study['seeds']} seeds; the seed sets the classifier's initial weights, the order and online augmentation of "
        f"its training batches and the random draws of its balancing{gan}. Each cell is the mean ± standard deviation "
        "over seeds of the models' test figures, each at its own threshold, and the "
        f"{level} interval of that seed mean from {study['bootstrap_resamples']} resamples of "
        "whole patients within each class (it reflects the test split's sampling, not seed variation). Against "
        f"{study['reference_strategy']}: a paired patient bootstrap of the difference in seed-mean ROC-AUC, and an exact "
        "McNemar test on each image's majority-vote correctness over seeds (a tie counts as wrong; it treats images "
        "as independent, so it is optimistic where patients have several images). Each test's p-values are "
        f"Holm-adjusted over the {len(comparison) - 1} comparisons and called significant below "
        f"{study['significance_level']:g}."
    )


def _flag(value: object) -> bool:
    """A significance flag as saved (bool) or read back from the CSV (bool, "True", NaN)."""
    return value in (True, "True")


def _verdict(row: pd.Series) -> str:
    findings = []
    if _flag(row["roc_auc_difference_significant"]):
        findings.append(f"a {'higher' if row['roc_auc_difference'] > 0 else 'lower'} ROC-AUC")
    if _flag(row["mcnemar_significant"]):
        findings.append(f"{'more' if row['mcnemar_c'] > row['mcnemar_b'] else 'fewer'} correct calls")
    return "evidence of " + " and ".join(findings) if findings else "no evidence of a difference"


def write_comparison_markdown(comparison: pd.DataFrame, study: dict) -> str:
    """The study report: the protocol, the table and one sentence per comparison with the reference."""
    reference = comparison["reference"].iloc[0]
    lines = ["# Balancing strategies compared over seeds", "", _protocol(comparison, study), ""]
    lines += ["| strategy | " + " | ".join(STUDY_METRICS) + " |", "|---" * (len(STUDY_METRICS) + 1) + "|"]
    for _, row in comparison.iterrows():
        name = f"{row['strategy']} (reference)" if row["strategy"] == reference else row["strategy"]
        lines.append(f"| {name} | " + " | ".join(_cell(row, metric) for metric in STUDY_METRICS) + " |")
    lines += ["", f"## Against {reference}", ""]
    comparisons = int((comparison["strategy"] != reference).sum())
    for _, row in comparison[comparison["strategy"] != reference].iterrows():
        lines.append(
            f"- {row['strategy']} vs {reference}: ROC-AUC {_signed(row['roc_auc_difference'])} "
            f"[{_signed(row['roc_auc_difference_ci_low'])}, {_signed(row['roc_auc_difference_ci_high'])}], "
            f"Holm p {_bootstrap_p(row['roc_auc_difference_p_holm'], comparisons, study)}; McNemar b = {int(row['mcnemar_b'])}, "
            f"c = {int(row['mcnemar_c'])}, Holm p = {row['mcnemar_p_holm']:.2g}: {_verdict(row)}."
        )
    return "\n".join(lines) + "\n"


def plot_comparison(comparison: pd.DataFrame) -> Figure:
    """Each metric's seed mean and interval per strategy, one panel per metric (the reference in red)."""
    figure = Figure(figsize=(3 * len(STUDY_METRICS), 0.5 * len(comparison) + 1.8), layout="constrained")
    positions = np.arange(len(comparison))[::-1]
    colours = np.where(comparison["strategy"] == comparison["reference"], "tab:red", "tab:blue")
    for axes, metric in zip(figure.subplots(1, len(STUDY_METRICS), sharey=True), STUDY_METRICS):
        means = comparison[f"{metric}_mean"].to_numpy(dtype=float)
        errors = np.abs(comparison[[f"{metric}_ci_low", f"{metric}_ci_high"]].to_numpy(dtype=float).T - means)
        for position, mean, low, high, colour in zip(positions, means, *errors, colours):
            axes.errorbar(mean, position, xerr=[[low], [high]], fmt="o", color=colour, capsize=3)
        axes.set_title(metric)
        axes.grid(axis="x", alpha=0.3)
    axes.set_yticks(positions, comparison["strategy"])
    figure.suptitle(f"Test metrics: seed mean and patient bootstrap interval ({comparison['reference'].iloc[0]} in red)")
    return figure
