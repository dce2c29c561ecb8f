"""Find a predictor package from what a user types: a folder, an MLflow model URI or a strategy
name. Resolves it to a local package folder; ``Predictor.load`` reads the folder."""

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from ..project_config import load_project_config
from ..strategies import STRATEGIES
from ..tracking import absolute_tracking_uri
from .builtin import BUILTIN_PACKAGE, builtin_model_name
from .package import CONFIG_FILE, ModelLoadError, package_folder

logger = logging.getLogger(__name__)

MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")
# Inside a logged MLflow model, where the pyfunc keeps the predictor package.
PACKAGE_ARTIFACT = "package"
PREDICTOR_DATASET = "{strategy}.predictor"
# The name of the package that ships with the project (inference/builtin.py), also used when no
# model is named and the project has trained none.
BUILTIN_MODEL = "builtin"


@contextmanager
def resolved_package(
    model: str | Path | None = None, project_path: str | Path = ".", env: str | None = None
) -> Iterator[tuple[Path, str]]:
    """The local package folder for ``model`` and the name to show for it, while the context lasts.

    ``model`` is an MLflow URI (``runs:/<run>/<name>``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``: downloaded to a temporary folder), a package folder (or a versioned
    folder of them), or a strategy name (its newest package in this project, where the catalog of
    ``env`` puts it), or ``builtin`` (the package that ships with the project). ``None`` takes
    the newest package of any strategy, and the built-in one when the project has trained none.
    """
    project_path = Path(project_path)
    if model is not None and str(model).startswith(MLFLOW_SCHEMES):
        with downloaded_package(str(model), project_path, env) as folder:
            yield folder, str(model)
    else:
        folder = local_package_folder(model, project_path, env)
        yield folder, builtin_model_name() if folder == BUILTIN_PACKAGE else str(folder)


def local_package_folder(model: str | Path | None, project_path: Path, env: str | None = None) -> Path:
    """The package folder of a folder path, a strategy name (its newest package) or ``builtin``;
    with ``None``, the newest package of any strategy, else the built-in one."""
    if model is not None and Path(model).exists():
        return package_folder(Path(model))
    if model == BUILTIN_MODEL:
        return BUILTIN_PACKAGE
    packages = strategy_package_roots(project_path, env)
    if model is None:
        newest = sorted(
            (found for root in packages.values() if root.is_dir() for found in root.glob(f"*/{root.name}/{CONFIG_FILE}")),
            key=lambda config: config.parent.parent.name,
        )
        if not newest:
            logger.info(
                "No model trained in '%s': using the built-in one. Train your own with `kedro run --pipeline "
                "baseline`, or pass --model with a package folder, an MLflow URI or a strategy name.",
                project_path / "data" / "06_models",
            )
            return BUILTIN_PACKAGE
        logger.info("Using the newest trained model: %s", newest[-1].parent)
        return newest[-1].parent
    if str(model) in packages:
        return package_folder(packages[str(model)])
    raise ModelLoadError(
        f"'{model}' is neither an existing folder, an MLflow URI ({', '.join(MLFLOW_SCHEMES)}) nor a trained "
        f"strategy of this project ({', '.join(sorted(packages)) or 'none found'}), nor '{BUILTIN_MODEL}' (the model "
        "that ships with pediatric-pneumonia)."
    )


def strategy_package_roots(project_path: Path, env: str | None = None) -> dict[str, Path]:
    """Strategy -> its versioned predictor folder, from the catalog's ``{strategy}.predictor`` pattern."""
    entry = load_project_config(project_path, "catalog", env).get(PREDICTOR_DATASET)
    if not entry:
        return {}
    return {strategy: project_path / entry["filepath"].format(strategy=strategy) for strategy in STRATEGIES}


class PackageLocationError(ValueError):
    """A folder where writing a new package could hide or overwrite a model."""


def check_new_package_folder(folder: Path, project_path: Path, env: str | None = None) -> None:
    """Raise a PackageLocationError unless ``folder`` is a safe place for a new package (a
    recalibrated one, an export): not inside the project's model folders (where ``--model
    <strategy>`` looks, from the catalog), not inside another package, and new or empty."""
    target = Path(folder).resolve()
    advice = "Give a new folder outside the project's models, e.g. --output recalibrated/<site>."
    for models in sorted({root.parent.parent.resolve() for root in strategy_package_roots(project_path, env).values()}):
        if target == models or models in target.parents:
            raise PackageLocationError(
                f"'{folder}' is inside '{models}', where this project looks up its trained models: a package written "
                f"there could hide the model that `--model <strategy>` loads. {advice}"
            )
    inside = next((parent for parent in target.parents if (parent / CONFIG_FILE).is_file()), None)
    if inside is not None:
        raise PackageLocationError(f"'{folder}' is inside the predictor package '{inside}'. {advice}")
    if target.is_dir() and any(target.iterdir()):
        raise PackageLocationError(f"'{folder}' is not empty: a new package goes into a new or empty folder. {advice}")


def tracking_uri_of(project_path: Path, env: str | None = None) -> str | None:
    """The project's MLflow tracking URI (``mlflow.yml`` of ``env``), unless MLFLOW_TRACKING_URI is set."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    uri = (load_project_config(project_path, "mlflow", env).get("server") or {}).get("mlflow_tracking_uri")
    return absolute_tracking_uri(uri, project_path) if uri else None


@contextmanager
def downloaded_package(uri: str, project_path: Path, env: str | None = None) -> Iterator[Path]:
    """The predictor package carried by the MLflow model at ``uri``, downloaded to a temporary folder."""
    tracking_uri = tracking_uri_of(project_path, env)
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
        yield package
