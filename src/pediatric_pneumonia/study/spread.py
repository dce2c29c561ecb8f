"""The seed spread: how much every figure that does not read the test split (validation, the
operating point, calibration, the stress report on validation images, the shortcut audit) moves
when only the training seed changes. A default that narrows it makes one training run a fair draw.
"""

import numpy as np
import pandas as pd

# An MLflow metric of a job's run, without its ``<strategy>.`` prefix, is a seed-spread figure when
# it starts with one of these: nothing here reads the test split.
# (The training curves' ``validation.loss`` / ``validation.auc`` ... are not among them: their
# latest value is the last epoch's, not the restored model's.)
SPREAD_FIGURE_PREFIXES = (
    "validation.sensitivity",
    "validation.specificity",
    "validation.nll_",
    "validation.ece_",
    "validation.brier_",
    "operating_point.",
    "calibration.",
    "stress.validation.",
    "shortcuts.validation.",
    "shortcuts.gradcam.",
)
# `study_figures`: one row per (model, seed, figure).
STUDY_FIGURE_COLUMNS = ("strategy", "seed", "figure", "value")
SEED_SPREAD_COLUMNS = ("strategy", "figure", "n_seeds", "mean", "std", "min", "max", "range")
# The figures the study's Markdown report shows of the spread (every figure is in the CSV).
HEADLINE_FIGURES = (
    "validation.sensitivity",
    "validation.specificity",
    "operating_point.threshold",
    "validation.ece_after",
    "stress.validation.roc_auc_mean",
    "stress.validation.roc_auc_worst",
    "stress.validation.specificity_mean",
    "stress.validation.specificity_worst",
    "stress.validation.sensitivity_mean",
    "stress.validation.sensitivity_worst",
    "shortcuts.validation.sharpness.sensitivity_slope",
    "shortcuts.gradcam.border_mass_share_mean",
)


def spread_figures(metrics: dict[str, float], strategy: str) -> dict[str, float]:
    """The seed-spread figures among one job's MLflow ``metrics`` (named ``<strategy>.<figure>``)."""
    prefix = f"{strategy}."
    return {
        name.removeprefix(prefix): float(value)
        for name, value in metrics.items()
        if name.startswith(prefix) and name.removeprefix(prefix).startswith(SPREAD_FIGURE_PREFIXES)
    }


def seed_spread(study_figures: pd.DataFrame) -> pd.DataFrame:
    """Per model and figure: over its seeds, the mean, the sample standard deviation (NaN for one
    seed), the smallest and largest value and their distance (``range``)."""
    missing = [column for column in STUDY_FIGURE_COLUMNS if column not in study_figures.columns]
    if missing:
        raise ValueError(f"study_figures lacks the columns {missing}; it needs {list(STUDY_FIGURE_COLUMNS)}.")
    grouped = study_figures.groupby(["strategy", "figure"], sort=False)["value"]
    spread = grouped.agg(n_seeds="size", mean="mean", std=lambda values: values.std(ddof=1), min="min", max="max")
    spread["range"] = spread["max"] - spread["min"]
    spread["std"] = spread["std"].where(spread["n_seeds"] > 1, np.nan)
    return spread.reset_index()[list(SEED_SPREAD_COLUMNS)]
