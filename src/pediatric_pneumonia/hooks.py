"""Project hooks."""

import logging
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog

logger = logging.getLogger(__name__)


class MlflowArtifactHook:
    """Log the file of every dataset whose catalog metadata names an ``mlflow_artifact_path``.

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
        saved_file = dataset._filepath
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
            saved_file = dataset._get_versioned_path(dataset.resolve_save_version())
        mlflow.log_artifact(str(Path(saved_file)), artifact_path)
        logger.info("Logged %s to MLflow under '%s'.", dataset_name, artifact_path)
