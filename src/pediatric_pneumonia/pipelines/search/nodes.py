"""Hyperparameter search: run the grid on the validation set, keep the best architecture, and let
training use it. The test split is never read here."""

import json
import logging
import math

import pandas as pd

from ...parameters import Preprocessing, Search, Training
from ...search import (
    expand_space,
    resolve_backend,
    search_ray,
    search_sequential,
    tracking_from_active_run,
    trial_settings,
)
from ...search.space import check_fits_image, sample_trials

logger = logging.getLogger(__name__)

def search_architectures(
    train_set: dict, validation_set: dict, search: Search, training: Training, preprocessing: Preprocessing
) -> pd.DataFrame:
    """Train every architecture of ``search.space`` (or ``max_trials`` of them) for
    ``search.epochs`` epochs and score it on validation, on the ``search.backend``.

    Inside a kedro-mlflow run, every trial is a child run of it. Returns one row per trial: its
    architecture, best validation ``search.metric``, the epoch of it, the epochs run and the status
    (``completed``, ``stopped_early`` by ASHA, ``error``).
    """
    architectures = sample_trials(expand_space(search, training.architecture.as_written()), search.max_trials, search.seed)
    check_fits_image(architectures, train_set["images"].shape[1])
    backend = resolve_backend(search)
    logger.info("Searching %d architectures on the %s backend.", len(architectures), backend)
    run = search_ray if backend == "ray" else search_sequential
    rows = run(
        architectures,
        train_set,
        validation_set,
        trial_settings(search, training, preprocessing),
        search,
        tracking_from_active_run(),
    )
    return pd.DataFrame(rows)


def select_architecture(search_results: pd.DataFrame, search: Search, training: Training) -> dict:
    """The architecture with the best validation ``search.metric`` (the earliest trial on a tie),
    merged over ``training.architecture``, with how it was selected."""
    metric = search.metric
    scored = search_results[search_results["status"] != "error"].dropna(subset=[metric])
    if scored.empty:
        raise RuntimeError(
            f"No search trial produced a validation {metric}: every one failed (see search_results' error column)."
        )
    order = scored.sort_values([metric, "trial"], ascending=[search.mode == "min", True])
    best = order.iloc[0]
    architecture = {
        **training.architecture.as_written(),
        "conv_filters": json.loads(best["conv_filters"]),
        "dense_units": json.loads(best["dense_units"]),
        "dropout_rates": json.loads(best["dropout_rates"]),
        "batch_norm": bool(best["batch_norm"]),
    }
    value = float(best[metric])
    logger.info("Selected %s (validation %s %.4f of %d trials): %s", best["trial"], metric, value, len(search_results), architecture)
    return {
        "architecture": architecture,
        "selection": {
            "trial": str(best["trial"]),
            "metric": metric,
            "value": value if math.isfinite(value) else None,
            "trials": len(search_results),
            "epochs_per_trial": search.epochs,
            "images_per_epoch": search.images_per_epoch,
        },
    }
