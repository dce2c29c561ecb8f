"""Project hooks."""

import logging
from functools import partial
from pathlib import Path

import mlflow
import numpy as np
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as registered_pipelines
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline
from kedro_datasets.partitions import PartitionedDataset

from .evaluation.calibration import check_calibration_parameters
from .evaluation.thresholds import check_threshold_parameters
from .imaging.preprocess import check_preprocessing_parameters
from .pipelines.balancing.nodes import BALANCING_FILE, check_balancing_parameters, synthetic_images_needed
from .pipelines.explain.nodes import check_explain_parameters
from .pipelines.ingestion.nodes import check_ingestion_parameters
from .pipelines.reporting.nodes import check_reporting_parameters
from .pipelines.stress.nodes import check_stress_parameters
from .pipelines.synthesis.nodes import select_gan_profile
from .pipelines.training.nodes import check_training_parameters
from .search import check_search_parameters
from .strategies import STRATEGIES, STRATEGY_TABLE
from .study.parameters import check_study_gan_profiles, check_study_parameters, study_strategies

logger = logging.getLogger(__name__)

# Parameter groups (by their last name: params:baseline.balancing -> balancing) checked up front.
PARAMETER_CHECKS = {
    "ingestion": check_ingestion_parameters,
    "preprocessing": check_preprocessing_parameters,
    "stress": check_stress_parameters,
    "balancing": check_balancing_parameters,
    "training": check_training_parameters,
    "calibration": check_calibration_parameters,
    "threshold": check_threshold_parameters,
    "reporting": check_reporting_parameters,
    "explain": check_explain_parameters,
    "synthesis": select_gan_profile,
    "search": check_search_parameters,
    "study": partial(check_study_parameters, strategies=STRATEGIES),
}

# The shared parameter groups that every study job reads besides its strategy's balancing block.
STUDY_JOB_GROUPS = ("training", "calibration", "threshold", "reporting")


class ParameterValidationHook:
    """Check the parameters and the saved inputs a pipeline uses before its first node runs.

    A typo in a parameter that only the last nodes read would otherwise surface after
    minutes of training. Runs before kedro-mlflow opens its run, so no empty run is left behind.
    Once the training set is made, it also checks that the synthesis will make enough images for
    every synthetic-image strategy of the run, before the GAN trains.
    """

    def __init__(self) -> None:
        self._synthetic_balancing: dict[str, dict] = {}
        self._synthetic_label: int | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        self._synthetic_balancing = {}
        for name in sorted(pipeline.inputs()):
            if not name.startswith("params:"):
                continue
            namespace, _, group = name.removeprefix("params:").rpartition(".")
            check = PARAMETER_CHECKS.get(group)
            if check is None:
                continue
            parameters = catalog.load(name)
            owner = namespace.rsplit(".", 1)[-1]
            if group == "balancing" and owner in STRATEGY_TABLE:
                check_strategy_block(owner, parameters)
            else:
                check(parameters)
            if group == "study":
                self._check_study_jobs(parameters, catalog)
            if group == "balancing" and STRATEGY_TABLE[parameters["strategy"]].uses_synthetic_images:
                self._synthetic_balancing[parameters["strategy"]] = parameters
        if self._synthetic_balancing and "synthetic_normal_set" in pipeline.all_outputs():
            classes = catalog.load("params:raw_data.classes")
            self._synthetic_label = classes.index(catalog.load("params:synthesis")["target_class"])
            # A run that starts from a saved training set (--from-nodes train_gan_node) checks it now.
            if "train_set" not in pipeline.all_outputs() and catalog.exists("train_set"):
                labels = catalog.load("train_set")["labels"]
                check_synthetic_supply(self._synthetic_balancing, labels, self._synthetic_label)
        else:
            self._synthetic_balancing = {}
        check_inputs_are_saved(pipeline, catalog)

    def _check_study_jobs(self, study: dict, catalog: DataCatalog) -> None:
        """Check what the study's jobs will read (each study strategy's balancing block, the
        training and report groups, the listed GAN profiles) now, not in every job after the
        data preparation and the GAN; arm the synthetic-image supply check for its strategies."""
        everything = catalog.load("parameters")
        check_study_against_synthesis(study, everything["synthesis"])
        for group in STUDY_JOB_GROUPS:
            PARAMETER_CHECKS[group](everything[group])
        for strategy in study_strategies(study):
            balancing = everything[strategy]["balancing"]
            check_strategy_block(strategy, balancing)
            if STRATEGY_TABLE[strategy].uses_synthetic_images:
                self._synthetic_balancing[strategy] = balancing

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: object) -> None:
        # After the save, so a rerun with fixed parameters starts from the saved training set.
        if dataset_name == "train_set" and self._synthetic_balancing:
            check_synthetic_supply(self._synthetic_balancing, data["labels"], self._synthetic_label)


def check_strategy_is_its_namespace(namespace: str, balancing: dict) -> None:
    """Raise a ValueError if the ``balancing`` block of a strategy's namespace names another strategy."""
    if balancing["strategy"] != namespace:
        raise ValueError(
            f"{namespace}.balancing.strategy is '{balancing['strategy']}' but the block belongs to the "
            f"'{namespace}' strategy: the namespace names the strategy. Set it to '{namespace}' in "
            f"{BALANCING_FILE}; to train another strategy, run `kedro run --pipeline <strategy>`."
        )


def check_strategy_block(strategy: str, balancing: dict) -> None:
    """Check the ``balancing`` block of ``strategy``'s namespace: that it names the strategy first
    (another strategy's settings would fail the next check on a key this block lacks), then its
    settings."""
    check_strategy_is_its_namespace(strategy, balancing)
    check_balancing_parameters(balancing)


def check_study_against_synthesis(study: dict, synthesis: dict) -> None:
    """Raise a ValueError if a GAN profile the study lists is unknown or cannot train, before the
    study's first GAN or classifier does."""
    check_study_gan_profiles(study, list(synthesis["profiles"]))
    for profile in study.get("gan_profiles") or []:
        select_gan_profile({**synthesis, "profile": profile})


def check_synthetic_supply(synthetic_balancing: dict[str, dict], labels: np.ndarray, synthetic_label: int) -> None:
    """Raise a ValueError if a strategy needs more synthetic images than the synthesis makes for
    this training set (``generate_synthetic_images``: largest class - the synthetic class)."""
    class_counts = np.bincount(labels, minlength=synthetic_label + 1)
    made = int(class_counts.max() - class_counts[synthetic_label])
    for strategy, balancing in synthetic_balancing.items():
        needed = synthetic_images_needed(balancing, class_counts, synthetic_label)
        if needed > made:
            raise ValueError(
                f"Strategy '{strategy}' needs {needed} synthetic images but the synthesis makes {made} "
                f"(largest class - class {synthetic_label}, class counts {class_counts.tolist()}). Lower "
                f"{strategy}.balancing.synthetic_share or target_scale in {BALANCING_FILE}; stopped before the GAN trains."
            )


def check_inputs_are_saved(pipeline: Pipeline, catalog: DataCatalog) -> None:
    """Raise a FileNotFoundError naming the pipelines to run first if an input that another
    registered pipeline makes (a model, a prepared set) has no saved version yet."""
    makers = {name: other for name, other in registered_pipelines.items() if name != "__default__"}
    missing = {}
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters":
            continue
        candidates = [other for other in makers if name in makers[other].all_outputs()]
        if candidates and not catalog.exists(name):
            missing[name] = min(candidates, key=lambda other: len(makers[other].nodes))
    if not missing:
        return
    first = [
        maker
        for maker in dict.fromkeys(missing.values())
        if not any(maker != other and set(makers[maker].nodes) < set(makers[other].nodes) for other in missing.values())
    ]
    raise FileNotFoundError(
        "This pipeline reads datasets that it does not make and that have no saved version yet: "
        + ", ".join(f"{name} (made by `kedro run --pipeline {maker}`)" for name, maker in missing.items())
        + ". Run first: "
        + "; ".join(f"`kedro run --pipeline {maker}`" for maker in first)
        + " (or everything with `kedro run`)."
    )


class MlflowArtifactHook:
    """Log the file (or, for a ``PartitionedDataset``, the folder) of every dataset whose catalog
    metadata names an ``mlflow_artifact_path``.

    kedro-mlflow's ``MlflowArtifactDataset`` gives a wrapped versioned dataset its own save
    version, which Kedro 1.x rejects when the catalog already has one; logging after the save
    keeps the catalog's single save version and still files the exact version in the MLflow run.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if self._catalog is None or mlflow.active_run() is None:
            return
        dataset = self._catalog.get(dataset_name)
        artifact_path = (getattr(dataset, "metadata", None) or {}).get("mlflow_artifact_path")
        if artifact_path is None:
            return
        if isinstance(dataset, PartitionedDataset):
            # A folder of files (one per partition): its whole content as saved.
            mlflow.log_artifacts(dataset._path, artifact_path)
            logger.info("Logged the files of %s to MLflow under '%s'.", dataset_name, artifact_path)
            return
        saved_file = dataset._filepath
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
            saved_file = dataset._get_versioned_path(dataset.resolve_save_version())
        mlflow.log_artifact(str(Path(saved_file)), artifact_path)
        logger.info("Logged %s to MLflow under '%s'.", dataset_name, artifact_path)
