"""The MLflow pyfunc model: raw X-ray files in, label, probability and threshold out (and, from a
model of more than two classes, each class's probability).

It wraps the same ``Predictor`` as the CLI and the web app, so ``mlflow models serve`` gives the
same answers. Input: a column ``image`` of encoded image files (bytes; base64 in JSON requests).

The logged model is self-contained: it carries this package's code (MLflow's ``code_paths``, put
first on ``sys.path`` when the model loads) and requires only public distributions, so
``mlflow models serve`` can build its environment anywhere. The project's own distribution is not
on any package index, and a requirement on its name would install whatever someone registers there.
"""

import base64
import binascii
import importlib.metadata
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from ..evaluation.frames import probability_columns
from .loading import PACKAGE_ARTIFACT
from .predictor import Prediction, Predictor

logger = logging.getLogger(__name__)

INPUT_COLUMN = "image"
# The output columns of every model, in order.
PREDICTION_COLUMNS = (
    # Empty, with the reason in `error`, for an input that is not a readable image.
    ColSpec("string", "label", required=False),
    ColSpec("double", "probability", required=False),
    ColSpec("double", "threshold"),
    # Empty for a package without a shift reference (format 1); the warning only over its cut-off.
    ColSpec("double", "ood_score", required=False),
    ColSpec("string", "ood_warning", required=False),
    ColSpec("string", "error", required=False),
)
# The distributions that loading and running the model imports (with the Keras backend's), pinned
# to this environment's versions; the package's own code travels with the model (``PACKAGE_CODE``).
# Stated, not inferred: MLflow's inference loads the model in a new Python process, which costs a
# TensorFlow import (about 10 s) for every model a run logs.
MODEL_REQUIREMENTS = (
    "mlflow",
    "keras",
    "numpy",
    "pandas",
    "opencv-python-headless",
    "pydicom",
    "pillow",
    "scipy",
    "scikit-learn",
    "pyyaml",
    "pydantic",
    "annotated-types",
)
# The pediatric_pneumonia package folder, logged as the model's code.
PACKAGE_CODE = Path(__file__).resolve().parents[1]
KERAS_BACKEND_DISTRIBUTIONS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# The registry alias of the version with the best validation ROC-AUC of a registered model.
BEST_ALIAS = "best"
VALIDATION_METRIC_TAG = "validation_roc_auc"


class PneumoniaModel(mlflow.pyfunc.PythonModel):
    """Loads the predictor package logged as the ``package`` artifact and predicts raw image files."""

    def load_context(self, context) -> None:
        self.predictor = Predictor.from_package(context.artifacts[PACKAGE_ARTIFACT])
        self.output_columns = model_signature(self.predictor.classes).outputs.input_names()

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """One row per input row, in order: an unreadable input (not an image, truncated, not base64)
        gets its reason in ``error`` and no label, and never stops the others, as ``predict`` does."""
        cells = [as_image_bytes(value, index) for index, value in enumerate(model_input[INPUT_COLUMN])]
        readable = [index for index, cell in enumerate(cells) if isinstance(cell, bytes)]
        # Each readable image named by its row, so a decoding error names the row it came from.
        scored = iter(
            self.predictor.predict_batch(
                [cells[index] for index in readable], [f"image {index}" for index in readable], skip_errors=True
            )
        )
        threshold = self.predictor.threshold
        predictions = [
            next(scored)
            if isinstance(cell, bytes)
            else Prediction(f"image {index}", None, None, threshold, cell.reason)
            for index, cell in enumerate(cells)
        ]
        rows = [prediction.as_dict() for prediction in predictions]
        return pd.DataFrame({column: [row.get(column) for row in rows] for column in self.output_columns})


@dataclass(frozen=True)
class UnreadableCell:
    """An input cell that is not image bytes, with the reason."""

    reason: str


def as_image_bytes(value: object, index: int) -> bytes | UnreadableCell:
    """An input cell as file bytes: bytes as they are, a str as base64 (what JSON carries); anything
    else, or text that is not base64, is unreadable (with the reason)."""
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as error:
        return UnreadableCell(
            f"Row {index} of column '{INPUT_COLUMN}' is neither image bytes nor base64 text ({error})."
        )


def model_signature(classes: list[str]) -> ModelSignature:
    """The logged model's signature: the ``image`` column in; ``PREDICTION_COLUMNS`` out, then, for
    a model of more than two classes, one ``probability_<CLASS>`` column per class (calibrated,
    empty for an unreadable input)."""
    per_class = (
        [ColSpec("double", column, required=False) for column in probability_columns("probability", classes)]
        if len(classes) > 2
        else []
    )
    return ModelSignature(
        inputs=Schema([ColSpec("binary", INPUT_COLUMN)]), outputs=Schema([*PREDICTION_COLUMNS, *per_class])
    )


def input_example() -> pd.DataFrame:
    """A small gray PNG, so the logged model carries an example request that runs."""
    gradient = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    return pd.DataFrame({INPUT_COLUMN: [cv2.imencode(".png", gradient)[1].tobytes()]})


def model_pip_requirements() -> list[str]:
    """The logged model's pip requirements: ``MODEL_REQUIREMENTS`` and the Keras backend, pinned.

    A distribution this environment does not hold (OpenCV installed as ``opencv-python``, say) is
    left out rather than failing the run that logs the model after its training.
    """
    names = MODEL_REQUIREMENTS + (KERAS_BACKEND_DISTRIBUTIONS[keras.backend.backend()],)
    installed = []
    for name in names:
        try:
            installed.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            logger.warning("%s is not installed: the logged model's requirements leave it out.", name)
    return installed


def log_predictor_model(predictor: Predictor, registered_model_name: str | None, artifact_name: str) -> str | None:
    """Log ``predictor`` to the active MLflow run as a pyfunc model; with ``registered_model_name``,
    register it as a new version and move the ``best`` alias to it if its validation ROC-AUC beats
    the current holder's. Returns the registered version, if any."""
    with tempfile.TemporaryDirectory(prefix="predictor-") as folder:
        package = Path(folder) / PACKAGE_ARTIFACT
        predictor.save(package)
        info = mlflow.pyfunc.log_model(
            name=artifact_name,
            python_model=PneumoniaModel(),
            artifacts={PACKAGE_ARTIFACT: str(package)},
            signature=model_signature(predictor.classes),
            input_example=input_example(),
            pip_requirements=model_pip_requirements(),
            code_paths=[str(PACKAGE_CODE)],
            registered_model_name=registered_model_name,
        )
    if not registered_model_name:
        return None
    promote_if_best(registered_model_name, str(info.registered_model_version), predictor)
    return str(info.registered_model_version)


def promote_if_best(name: str, version: str, predictor: Predictor) -> None:
    """Tag the version with its validation ROC-AUC and give it the ``best`` alias when it is the best."""
    client = MlflowClient()
    score = predictor.config.get("validation", {}).get("roc_auc")
    if score is None:
        return
    client.set_model_version_tag(name, version, VALIDATION_METRIC_TAG, f"{score:.6f}")
    try:
        holder = client.get_model_version_by_alias(name, BEST_ALIAS)
        best_score = float(holder.tags.get(VALIDATION_METRIC_TAG, "-inf"))
    except MlflowException:
        best_score = float("-inf")
    if score > best_score:
        client.set_registered_model_alias(name, BEST_ALIAS, version)
        logger.info(
            "Registered model %s version %s is now @%s (validation ROC-AUC %.4f).", name, version, BEST_ALIAS, score
        )


# Tags of an evaluation or recalibration run that name the model it used.
EVALUATION_KIND_TAG = "pediatric_pneumonia.kind"


def use_project_tracking(project_path: Path, env: str | None = None) -> tuple[str, str]:
    """Point MLflow at the project's tracking store and experiment (``conf/<env>/mlflow.yml``);
    returns the URI and the experiment's id."""
    from ..project_config import load_project_config
    from .loading import tracking_uri_of

    uri = tracking_uri_of(project_path, env)
    if uri:
        mlflow.set_tracking_uri(uri)
    experiment = ((load_project_config(project_path, "mlflow", env).get("tracking") or {}).get("experiment") or {}).get(
        "name"
    )
    chosen = mlflow.set_experiment(experiment or "pediatric_pneumonia")
    return mlflow.get_tracking_uri(), chosen.experiment_id


def registered_model_version(uri: str) -> tuple[str, str] | None:
    """``(name, version)`` of a ``models:/name/version`` or ``models:/name@alias`` URI; None for any other."""
    if not uri.startswith("models:/"):
        return None
    reference = uri.removeprefix("models:/").strip("/")
    client = MlflowClient()
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, str(client.get_model_version_by_alias(name, alias).version)
    name, _, version = reference.partition("/")
    if version.isdigit():
        return name, version
    latest = client.search_model_versions(f"name='{name}'", order_by=["version_number DESC"], max_results=1)
    return (name, str(latest[0].version)) if latest else None


def model_reference(model: str) -> dict[str, str]:
    """Tags naming a model: ``model_uri`` as given and, where MLflow knows it, the registered model
    and version and the run that logged it (``source_run_id``)."""
    tags = {"model_uri": model}
    try:
        registered = registered_model_version(model)
    except MlflowException as error:
        logger.warning("'%s' was not found in the registry (%s): the run names its URI only.", model, error)
        registered = None
    if registered:
        name, version = registered
        tags |= {
            "registered_model": name,
            "registered_version": version,
            "source_run_id": MlflowClient().get_model_version(name, version).run_id or "",
        }
    elif model.startswith("runs:/"):
        tags["source_run_id"] = model.removeprefix("runs:/").split("/", 1)[0]
    return tags


def log_evaluation_run(report: dict, files: list[Path], model: str, run_name: str, experiment_id: str) -> str:
    """Log an evaluation of ``model`` as a run of ``experiment_id``: the report's numeric figures as
    ``site.*`` metrics, its files as artifacts, tags naming the model (``model_reference``). Returns the run id.
    Logged through a client, so a run already active in this process never absorbs it."""
    from ..tracking import report_metrics

    client = MlflowClient()
    tags = {EVALUATION_KIND_TAG: "evaluation", **model_reference(model)}
    run_id = client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(name, entry["value"], now, 0) for name, entry in report_metrics(report, "site").items()]
        client.log_batch(run_id, metrics=metrics)
        for file in files:
            client.log_artifact(run_id, str(file))
    except Exception:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def register_recalibrated(predictor: Predictor, base_model: str, site: str) -> tuple[str, str]:
    """Register a recalibrated predictor as a new version of its base's registered model, tagged
    with the site, the base version and the provenance; the base version is not touched (the new
    one carries no validation ROC-AUC, so ``best`` stays where it is). Returns (name, version).

    Raises:
        ValueError: if ``base_model`` is not a registered model's URI.
    """
    registered = registered_model_version(base_model)
    if registered is None:
        raise ValueError(
            f"--register needs the base model as a registered model URI (models:/<name>/<version> or "
            f"models:/<name>@<alias>), got '{base_model}'."
        )
    name, base_version = registered
    provenance = predictor.config["provenance"]
    tags = {EVALUATION_KIND_TAG: "recalibration", "site": site, **model_reference(base_model)}
    with mlflow.start_run(run_name=f"recalibrate {name} v{base_version} for {site}", tags=tags):
        mlflow.log_dict(provenance, "provenance.json")
        version = log_predictor_model(predictor, name, "model")
    client = MlflowClient()
    for key, value in {
        "site": site,
        "recalibrated_from_version": base_version,
        "site_content_fingerprint": provenance["site"]["content_fingerprint"],
        "site_n_images": str(provenance["site"]["n_images"]),
        "threshold": f"{predictor.threshold:.6f}",
    }.items():
        client.set_model_version_tag(name, version, key, value)
    return name, version
