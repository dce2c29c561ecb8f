"""The study's nodes: every strategy x seed model trained by a job of its own (``study/jobs.py``),
then the comparison report of their test predictions (``study_predictions``)."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from kedro.utils import find_kedro_project
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from ...parameters import Study, as_written
from ...study.comparison import is_multiclass, study_metrics, tested_metric
from ...study.jobs import StudyJobError, gan_jobs, job_name, job_predictions, launch_jobs, study_jobs, trains_own_gan
from ...study.parameters import GAN_PROFILE_SEPARATOR
from ...study.spread import HEADLINE_FIGURES, STUDY_FIGURE_COLUMNS, spread_figures


def run_study_models(
    image_split: pd.DataFrame, synthetic_images: dict, parameters: dict, study: Study
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and report every strategy of ``study.strategies`` over ``study.seeds`` seeds (the
    synthetic-image ones with each of ``study.gan_profiles``), each job an MLflow child run of this
    run; returns their test predictions, one row per job and test image (``study_prediction_columns``
    of ``raw_data.classes``: each class's probability too for a K-class task), and every figure of
    theirs that reads no test image (validation, stress report, shortcut audit: ``study.spread``), one
    row per job and figure (``STUDY_FIGURE_COLUMNS``).

    The jobs read the data this run prepared and the synthetic images of its GAN
    (``synthesis.profile``); a GAN of another listed profile is trained once, by a job of its own,
    before the models that use it. Raises StudyJobError before any job if models would balance with
    that GAN's images but it made none (``synthetic_images``), after the jobs if one failed
    or a model did not score exactly the test images of ``image_split`` (the paired tests need them).
    """
    parent = mlflow.active_run()
    if parent is None:
        raise StudyJobError("The study needs MLflow tracking (conf/base/mlflow.yml): its jobs are MLflow child runs.")
    project_path = (find_kedro_project(Path.cwd()) or Path.cwd()).resolve()
    root = project_path / study.workspace / parent.info.run_id
    parameters = as_written(parameters)
    default_profile = parameters["synthesis"]["profile"]
    jobs = study_jobs(study, parameters["training"]["seed"], default_profile)
    gans = gan_jobs(jobs, study, default_profile)
    shared_gan_models = [job_name(job) for job in jobs if job["gan_profile"] == default_profile and not trains_own_gan(job, study)]
    if shared_gan_models and not synthetic_images:
        raise StudyJobError(
            f"The GAN of synthesis.profile '{default_profile}' made no synthetic images (every class of the "
            f"training set is as large as the largest), so {shared_gan_models[0]} and the other models that use them would be "
            "baseline models under another name. Leave the synthetic-image strategies out of study.strategies."
        )
    launch = {"parent_run_id": parent.info.run_id, "parameters": parameters, "study": study, "project_path": project_path}
    launch_jobs(gans, **launch, root=root, gan_folders={})
    results = launch_jobs(jobs, **launch, root=root, gan_folders={job["gan_profile"]: root / job_name(job) for job in gans})
    client = MlflowClient()
    classes = parameters["raw_data"]["classes"]
    predictions = pd.concat([job_predictions(client, result, classes) for result in results], ignore_index=True)
    figures = pd.DataFrame(
        [
            {"strategy": result["model"], "seed": result["seed"], "figure": figure, "value": value}
            for result in results
            for figure, value in spread_figures(client.get_run(result["run_id"]).data.metrics, result["strategy"]).items()
        ],
        columns=list(STUDY_FIGURE_COLUMNS),
    )
    test_images = set(image_split.loc[image_split["subset"] == "test", "path"])
    scored = predictions.groupby("strategy")["path"].agg(set)
    for model, paths in scored.items():
        if paths != test_images:
            raise StudyJobError(
                f"The {model} models scored {len(paths)} test images, not the {len(test_images)} of image_split "
                f"({len(paths - test_images)} unknown, {len(test_images - paths)} missing): the prepared data changed "
                "while the study ran. Rerun the study."
            )
    return predictions, figures


# How the report names the figure whose difference from the reference it tests (``tested_metric``).
TESTED_FIGURE_NAMES = {"roc_auc": "ROC-AUC", "multiclass_macro_roc_auc": "macro ROC-AUC"}


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "\u2212")


def _cell(row: pd.Series, metric: str) -> str:
    spread = "" if pd.isna(row[f"{metric}_std"]) else f" ± {row[f'{metric}_std']:.3f}"
    interval = "" if pd.isna(row[f"{metric}_ci_low"]) else f" [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"
    return "n/a" if pd.isna(row[f"{metric}_mean"]) else f"{row[f'{metric}_mean']:.3f}{spread}{interval}"


def _bootstrap_p(p_value: float, comparisons: int, study: Study) -> str:
    """'= p', or a bound where no resample crossed zero (the raw p is then below 1 / resamples)."""
    return f"< {comparisons / study.bootstrap_resamples:.2g}" if p_value == 0 else f"= {p_value:.2g}"


def _protocol(comparison: pd.DataFrame, study: Study) -> str:
    gan = (
        " and, for the strategies that use synthetic images, the GAN that makes them"
        if study.retrain_gan_per_seed
        else "; the GAN and its synthetic images are made once and shared by every seed"
    )
    if study.gan_profiles:
        gan += (
            f"; the strategies that use synthetic images were trained with each of the GAN profiles "
            f"{', '.join(study.gan_profiles)} (named strategy{GAN_PROFILE_SEPARATOR}profile)"
        )
    level = f"{100 * study.confidence_level:g}%"
    multiclass = is_multiclass(comparison)
    tested = TESTED_FIGURE_NAMES[tested_metric(multiclass)]
    figures = (
        " The multiclass figures are those of each image's most probable class (the macro ROC-AUC is the mean "
        "one-vs-rest ROC-AUC over the classes); the others are those of P(pneumonia) = 1 - P(NORMAL) at each "
        "model's threshold."
        if multiclass
        else ""
    )
    call = " of its most probable class" if multiclass else ""
    return (
        "**Protocol.** Each strategy's classifier was trained on the training patients (the public train split less "
        "the patients held out for validation), balanced as the strategy prescribes; its training epochs, probability "
        "calibration and decision threshold were chosen on the validation patients only, and the test split was read "
        f"once per model, after all of that was fixed. Each of the {len(comparison)} models compared was trained with "
        f"{study.seeds} seeds; the seed sets the classifier's initial weights, the order and online augmentation of "
        f"its training batches and the random draws of its balancing{gan}. Each cell is the mean ± standard deviation "
        "over seeds of the models' test figures, each at its own threshold, and the "
        f"{level} interval of that seed mean from {study.bootstrap_resamples} resamples of "
        f"whole patients within each class (it reflects the test split's sampling, not seed variation).{figures} Against "
        f"{study.reference_strategy}: a paired patient bootstrap of the difference in seed-mean {tested}, and an exact "
        f"McNemar test on each image's majority-vote correctness{call} over seeds (a tie counts as wrong; it treats images "
        "as independent, so it is optimistic where patients have several images). Each test's p-values are "
        f"Holm-adjusted over the {len(comparison) - 1} comparisons and called significant below "
        f"{study.significance_level:g}."
    )


def _flag(value: object) -> bool:
    """A significance flag as saved (bool) or read back from the CSV (bool, "True", NaN)."""
    return value in (True, "True")


def _verdict(row: pd.Series, tested: str) -> str:
    findings = []
    if _flag(row[f"{tested}_difference_significant"]):
        findings.append(f"a {'higher' if row[f'{tested}_difference'] > 0 else 'lower'} {TESTED_FIGURE_NAMES[tested]}")
    if _flag(row["mcnemar_significant"]):
        findings.append(f"{'more' if row['mcnemar_c'] > row['mcnemar_b'] else 'fewer'} correct calls")
    return "evidence of " + " and ".join(findings) if findings else "no evidence of a difference"


def write_comparison_markdown(comparison: pd.DataFrame, spread: pd.DataFrame, study: Study) -> str:
    """The study report: the protocol, the table, one sentence per comparison with the reference,
    and the seed spread of the headline figures that read no test image."""
    reference = comparison["reference"].iloc[0]
    multiclass = is_multiclass(comparison)
    metrics, tested = study_metrics(multiclass), tested_metric(multiclass)
    lines = ["# Balancing strategies compared over seeds", "", _protocol(comparison, study), ""]
    lines += ["| strategy | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for _, row in comparison.iterrows():
        name = f"{row['strategy']} (reference)" if row["strategy"] == reference else row["strategy"]
        lines.append(f"| {name} | " + " | ".join(_cell(row, metric) for metric in metrics) + " |")
    lines += ["", f"## Against {reference}", ""]
    comparisons = int((comparison["strategy"] != reference).sum())
    for _, row in comparison[comparison["strategy"] != reference].iterrows():
        lines.append(
            f"- {row['strategy']} vs {reference}: {TESTED_FIGURE_NAMES[tested]} {_signed(row[f'{tested}_difference'])} "
            f"[{_signed(row[f'{tested}_difference_ci_low'])}, {_signed(row[f'{tested}_difference_ci_high'])}], "
            f"Holm p {_bootstrap_p(row[f'{tested}_difference_p_holm'], comparisons, study)}; McNemar b = {int(row['mcnemar_b'])}, "
            f"c = {int(row['mcnemar_c'])}, Holm p = {row['mcnemar_p_holm']:.2g}: {_verdict(row, tested)}."
        )
    return "\n".join(lines + _spread_lines(spread)) + "\n"


def _spread_lines(spread: pd.DataFrame) -> list[str]:
    """The seed spread section: per headline figure and model, mean ± sd [min, max]."""
    shown = spread[spread["figure"].isin(HEADLINE_FIGURES)]
    if shown.empty:
        return []
    models = list(dict.fromkeys(shown["strategy"]))
    lines = [
        "",
        "## Seed spread (validation, stress report, shortcut audit; no test image)",
        "",
        "Mean ± standard deviation [smallest, largest] over the seeds; every figure is in seed_spread.csv.",
        "",
        "| figure | " + " | ".join(models) + " |",
        "|---" * (len(models) + 1) + "|",
    ]
    table = shown.set_index(["figure", "strategy"])
    for figure in [name for name in HEADLINE_FIGURES if name in set(shown["figure"])]:
        cells = []
        for model in models:
            if (figure, model) not in table.index:
                cells.append("n/a")
                continue
            row = table.loc[(figure, model)]
            deviation = "" if pd.isna(row["std"]) else f" ± {row['std']:.3f}"
            cells.append(f"{row['mean']:.3f}{deviation} [{row['min']:.3f}, {row['max']:.3f}]")
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return lines


def plot_comparison(comparison: pd.DataFrame) -> Figure:
    """Each metric's seed mean and interval per strategy, one panel per metric (the reference in red);
    a K-class study's title says which figures are of the most probable class and which of P(pneumonia)."""
    metrics = study_metrics(is_multiclass(comparison))
    figure = Figure(figsize=(3 * len(metrics), 0.5 * len(comparison) + 1.8), layout="constrained")
    positions = np.arange(len(comparison))[::-1]
    colours = np.where(comparison["strategy"] == comparison["reference"], "tab:red", "tab:blue")
    for axes, metric in zip(figure.subplots(1, len(metrics), sharey=True), metrics):
        means = comparison[f"{metric}_mean"].to_numpy(dtype=float)
        errors = np.abs(comparison[[f"{metric}_ci_low", f"{metric}_ci_high"]].to_numpy(dtype=float).T - means)
        for position, mean, low, high, colour in zip(positions, means, *errors, colours):
            axes.errorbar(mean, position, xerr=[[low], [high]], fmt="o", color=colour, capsize=3)
        axes.set_title(metric)
        axes.grid(axis="x", alpha=0.3)
    axes.set_yticks(positions, comparison["strategy"])
    sources = "multiclass_* of the most probable class, the others of P(pneumonia); " if is_multiclass(comparison) else ""
    reference = comparison["reference"].iloc[0]
    figure.suptitle(f"Test metrics: {sources}seed mean and patient bootstrap interval ({reference} in red)")
    return figure
