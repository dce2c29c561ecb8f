"""Project hooks."""

import logging
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline
from kedro_datasets.partitions import PartitionedDataset

from .evaluation.calibration import check_calibration_parameters
from .evaluation.thresholds import check_threshold_parameters
from .imaging.preprocess import check_preprocessing_parameters
from .pipelines.balancing.nodes import check_balancing_parameters
from .pipelines.explain.nodes import check_explain_parameters
from .pipelines.ingestion.nodes import check_ingestion_parameters
from .pipelines.reporting.nodes import check_reporting_parameters
from .pipelines.stress.nodes import check_stress_parameters
from .pipelines.synthesis.nodes import select_gan_profile
from .pipelines.training.nodes import check_training_parameters

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
}


class ParameterValidationHook:
    """Check the parameters a pipeline uses before its first node runs.

    A typo in a parameter that only the last nodes read would otherwise surface after
    minutes of training. Runs before kedro-mlflow opens its run, so no empty run is left behind.
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        for name in sorted(pipeline.inputs()):
            if not name.startswith("params:"):
                continue
            check = PARAMETER_CHECKS.get(name.removeprefix("params:").rsplit(".", 1)[-1])
            if check is not None:
                check(catalog.load(name))


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
