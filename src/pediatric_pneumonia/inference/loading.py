"""Find and load a predictor from what a user types: a folder, an MLflow model URI or a strategy name."""

import logging
import os
import tempfile
from pathlib import Path

import mlflow
import yaml
from mlflow.exceptions import MlflowException

from ..tracking import absolute_tracking_uri
from .predictor import ModelLoadError, Predictor, package_folder

logger = logging.getLogger(__name__)

MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")
# Inside a logged MLflow model, where the pyfunc keeps the predictor package.
PACKAGE_ARTIFACT = "package"
PREDICTOR_DATASET = "{strategy}.predictor"


def load_predictor(model: str | Path | None = None, project_path: str | Path = ".") -> Predictor:
    """Load ``model``: an MLflow URI (``runs:/<run>/<name>``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``), a package folder (or a versioned folder of them), or a strategy name
    (its newest package in this project). ``None`` takes the newest package of any strategy.
    """
    project_path = Path(project_path)
    if model is not None and str(model).startswith(MLFLOW_SCHEMES):
        return load_from_mlflow(str(model), project_path)
    if model is not None and Path(model).exists():
        return Predictor.from_package(package_folder(Path(model)))
    packages = strategy_package_roots(project_path)
    if model is None:
        newest = sorted(
            (found for root in packages.values() if root.is_dir() for found in root.glob(f"*/{root.name}/predictor.json")),
            key=lambda config: config.parent.parent.name,
        )
        if not newest:
            raise ModelLoadError(
                f"No trained model in '{project_path / 'data' / '06_models'}'. Train one with "
                "`kedro run --pipeline baseline`, or pass --model with a package folder or an MLflow URI."
            )
        folder = newest[-1].parent
        logger.info("Using the newest trained model: %s", folder)
        return Predictor.from_package(folder)
    if str(model) in packages:
        return Predictor.from_package(package_folder(packages[str(model)]))
    raise ModelLoadError(
        f"'{model}' is neither an existing folder, an MLflow URI ({', '.join(MLFLOW_SCHEMES)}) nor a trained "
        f"strategy of this project ({', '.join(sorted(packages)) or 'none found'})."
    )


def strategy_package_roots(project_path: Path) -> dict[str, Path]:
    """Strategy -> its versioned predictor folder, from the catalog's ``{strategy}.predictor`` pattern."""
    from ..pipeline_registry import STRATEGIES

    catalog_files = sorted((project_path / "conf" / "base").glob("catalog*.yml"))
    for catalog_file in catalog_files:
        entry = (yaml.safe_load(catalog_file.read_text()) or {}).get(PREDICTOR_DATASET)
        if entry:
            return {strategy: project_path / entry["filepath"].format(strategy=strategy) for strategy in STRATEGIES}
    return {}


def tracking_uri_of(project_path: Path) -> str | None:
    """The project's MLflow tracking URI (conf/base/mlflow.yml), unless MLFLOW_TRACKING_URI is set."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    settings = project_path / "conf" / "base" / "mlflow.yml"
    if not settings.is_file():
        return None
    uri = (yaml.safe_load(settings.read_text()) or {}).get("server", {}).get("mlflow_tracking_uri")
    return absolute_tracking_uri(uri, project_path) if uri else None


def load_from_mlflow(uri: str, project_path: Path) -> Predictor:
    """Download the MLflow model at ``uri`` and load the predictor package it carries."""
    tracking_uri = tracking_uri_of(project_path)
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="pediatric-pneumonia-") as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=folder))
        except (MlflowException, OSError) as error:
            raise ModelLoadError(
                f"MLflow has no model at '{uri}' (tracking store {mlflow.get_tracking_uri()}): {error}. "
                "List the registered models in the MLflow UI (`make mlflow-ui`)."
            ) from error
        package = local / "artifacts" / PACKAGE_ARTIFACT
        if not package.is_dir():
            raise ModelLoadError(f"'{uri}' is an MLflow model, but not one logged by pediatric-pneumonia (no {PACKAGE_ARTIFACT}).")
        predictor = Predictor.from_package(package)
    predictor.name = uri
    return predictor
