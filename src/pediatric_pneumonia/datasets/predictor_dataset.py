"""A Kedro dataset for a ``Predictor`` package folder, optionally logged and registered in MLflow."""

import logging
import shutil
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractVersionedDataset, Version
from kedro.io.core import DatasetError

from ..inference.predictor import Predictor

logger = logging.getLogger(__name__)


class PredictorDataset(AbstractVersionedDataset[Predictor, Predictor]):
    """Saves a ``Predictor`` as a package folder (``classifier.keras`` + ``predictor.json``) and loads it.

    With ``registered_model_name``, a save inside an active MLflow run (kedro-mlflow opens one per
    ``kedro run``) also logs the package as a pyfunc model that takes raw image files, registers it
    as a new version and moves the ``best`` alias to it when its validation ROC-AUC is the best.

    Example catalog entry::

        "{strategy}.predictor":
          type: pediatric_pneumonia.datasets.PredictorDataset
          filepath: data/06_models/{strategy}/predictor
          versioned: true
          registered_model_name: pediatric_pneumonia_{strategy}
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        registered_model_name: str | None = None,
        mlflow_artifact_name: str = "model",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._registered_model_name = registered_model_name
        self._mlflow_artifact_name = mlflow_artifact_name
        self.metadata = metadata
        super().__init__(filepath=Path(filepath), version=version, exists_function=lambda path: Path(path).exists())

    def load(self) -> Predictor:
        return Predictor.from_package(self._get_load_path())

    def save(self, data: Predictor) -> None:
        save_path = Path(self._get_save_path())
        # Write beside the target first, so an interrupted save never leaves half a package.
        partial = save_path.with_name(f"{save_path.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        data.save(partial)
        partial.rename(save_path)
        if mlflow.active_run() is not None:
            from ..inference.mlflow_model import log_predictor_model

            log_predictor_model(data, self._registered_model_name, self._mlflow_artifact_name)
        elif self._registered_model_name:
            logger.warning("No active MLflow run: %s was not logged nor registered.", self._registered_model_name)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "version": self._version,
            "registered_model_name": self._registered_model_name,
        }

    def _exists(self) -> bool:
        try:
            return Path(self._get_load_path()).is_dir()
        except DatasetError:  # a versioned dataset with no saved version yet
            return False
