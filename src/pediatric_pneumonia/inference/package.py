"""The predictor package on disk: a folder with the Keras model (``classifier.keras``) and
``predictor.json`` (format version, class names, the preprocessing the model was trained with, the
validation-fitted calibration and decision threshold). From format 2, ``reference_features.npz``
holds the shift reference (features and calibrated probabilities of a seeded sample of validation
images, recorded under ``shift_reference`` in predictor.json) that ``check-shift`` and the
per-image out-of-distribution score compare new images with. Reading, checking and finding
packages; ``Predictor`` (``predictor.py``) is what scores with one.
"""

import json
from pathlib import Path

import keras
import numpy as np

# 2: predictor.json may carry inference.tta (test-time augmentation), which a format-1 reader would
# ignore and so score differently, and a shift reference (reference_features.npz); format-1
# packages are read as having neither.
# 3: a package may hold a model of more than two classes (a softmax over ``classes``, decided by
# ``decision.rule: argmax``), which a format-2 reader would take for a binary one.
PACKAGE_FORMAT_VERSION = 3
# The first package format that carries a shift reference.
SHIFT_REFERENCE_SINCE = 2
MODEL_FILE = "classifier.keras"
CONFIG_FILE = "predictor.json"
REFERENCE_FILE = "reference_features.npz"
REFERENCE_ARRAYS = ("features", "probabilities")
CONFIG_KEYS = ("format_version", "classes", "preprocessing", "calibration", "decision")


class ModelLoadError(ValueError):
    """A predictor could not be loaded: missing, not a model, or inconsistent with its preprocessing."""


class NoShiftReferenceError(ValueError):
    """The package has no shift reference, which ``check-shift`` and the out-of-distribution score need."""

    def __init__(self, name: str, format_version: object) -> None:
        super().__init__(
            f"'{name}' (predictor package format {format_version}) carries no shift reference: the validation features "
            f"that check-shift compares new images with came with package format {SHIFT_REFERENCE_SINCE}. Retrain it "
            "with this version of pediatric-pneumonia (`kedro run --pipeline <strategy>`) to get one."
        )


def check_package_config(config: dict, model_input_shape: tuple, name: str, model_outputs: int | None = None) -> None:
    """Raise ModelLoadError unless ``config`` is a package configuration this version reads, its
    preprocessing makes the inputs the model takes (``model_input_shape``, without the batch axis)
    and its classes are the model's outputs (``model_outputs`` units: 1 for two classes, K for K)."""
    if not isinstance(config, dict):
        raise ModelLoadError(f"The predictor configuration of '{name}' is not a JSON object: it was not written by this project.")
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        raise ModelLoadError(f"The predictor configuration of '{name}' lacks {missing}: it was not written by this project.")
    try:
        size, _ = int(config["preprocessing"]["image_size"]), float(config["decision"]["threshold"])
        newer = int(config["format_version"]) > PACKAGE_FORMAT_VERSION
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(
            f"The predictor configuration of '{name}' is malformed ({type(error).__name__}: {error}): it needs "
            "preprocessing.image_size, decision.threshold and format_version. Load a package written by the training pipeline."
        ) from error
    if newer:
        raise ModelLoadError(
            f"'{name}' is a predictor package of format {config['format_version']}; this version of "
            f"pediatric-pneumonia reads format {PACKAGE_FORMAT_VERSION}. Upgrade pediatric-pneumonia."
        )
    expected = (size, size, 1)
    if tuple(model_input_shape) != expected:
        raise ModelLoadError(
            f"The model in '{name}' takes inputs of shape {tuple(model_input_shape)}, but its "
            f"preprocessing makes {expected} (image_size {size}). The model and predictor.json do not "
            "belong together: load a package written by the training pipeline."
        )
    classes = list(config["classes"])
    if model_outputs is not None and model_outputs != (1 if len(classes) == 2 else len(classes)):
        raise ModelLoadError(
            f"The model in '{name}' has {model_outputs} output(s), but predictor.json names {len(classes)} classes "
            f"{classes}: a two-class model has one output, a K-class one K. The model and predictor.json do not "
            "belong together: load a package written by the training pipeline."
        )


def read_package(folder: str | Path) -> tuple[keras.Model, dict]:
    """The model and configuration of the package in ``folder``. Keras safe mode stays on, so
    loading never runs code from the file."""
    folder = Path(folder)
    model_path, config_path = folder / MODEL_FILE, folder / CONFIG_FILE
    if not folder.is_dir() or not model_path.is_file() or not config_path.is_file():
        raise ModelLoadError(
            f"'{folder}' is not a predictor package: it needs {MODEL_FILE} and {CONFIG_FILE}. Train one with "
            "`kedro run --pipeline baseline` (it is written to data/06_models/<strategy>/predictor/) or give "
            "an MLflow model URI."
        )
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"'{config_path}' is not valid JSON ({error}).") from error
    try:
        classifier = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a file that is not a model
        raise ModelLoadError(
            f"'{model_path}' could not be loaded as a Keras model ({type(error).__name__}: {error})."
        ) from error
    return classifier, config


def read_shift_reference(folder: str | Path, config: dict) -> dict[str, np.ndarray] | None:
    """The shift reference arrays (``features``, ``probabilities``) of the package in ``folder``, or
    None when its ``predictor.json`` records none (packages before format 2)."""
    recorded = config.get("shift_reference")
    if recorded is None:
        return None
    path = Path(folder) / recorded.get("file", REFERENCE_FILE)
    try:
        with np.load(path, allow_pickle=False) as stored:
            reference = {name: stored[name] for name in REFERENCE_ARRAYS}
    except (OSError, KeyError, ValueError) as error:
        raise ModelLoadError(
            f"'{path}' (the shift reference predictor.json records) could not be read ({type(error).__name__}: {error}). "
            "Copy the whole package folder, or load a package written by the training pipeline."
        ) from error
    if len(reference["features"]) != len(reference["probabilities"]) or reference["features"].ndim != 2:
        raise ModelLoadError(f"'{path}' is not a shift reference: it needs (N, D) features and N probabilities.")
    return reference


def without_training_state(classifier: keras.Model) -> keras.Model:
    """The classifier without its optimizer's state (Adam's moments, a weight average: 3-4x the
    weights' size), which a package that only predicts never reads; the same model when it has none."""
    if getattr(classifier, "optimizer", None) is None:
        return classifier
    inference_only = type(classifier).from_config(classifier.get_config())  # rebuilt, never compiled
    inference_only.set_weights(classifier.get_weights())
    return inference_only


def write_package(
    folder: str | Path, classifier: keras.Model, config: dict, shift_reference: dict[str, np.ndarray] | None = None
) -> None:
    """Write a package into ``folder`` (created), with the shift reference when there is one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    without_training_state(classifier).save(folder / MODEL_FILE)
    if shift_reference is not None:
        np.savez(folder / config["shift_reference"]["file"], **{name: shift_reference[name] for name in REFERENCE_ARRAYS})
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def package_folder(path: Path) -> Path:
    """The package in ``path``: ``path`` itself, or the newest version under a versioned dataset
    folder (``<path>/<version>/<name>/``, as Kedro writes ``data/06_models/<strategy>/predictor``)."""
    if path.is_file() and (path.parent / CONFIG_FILE).is_file():
        return path.parent
    versions = sorted(path.glob(f"*/{path.name}/{CONFIG_FILE}")) if path.is_dir() else []
    if (path / CONFIG_FILE).is_file():
        if versions:
            # A package written at the root of a versioned folder would hide every version Kedro writes.
            raise ModelLoadError(
                f"'{path}' holds a predictor package at its root and {len(versions)} versioned package(s) under it "
                f"(newest: {versions[-1].parent}): which one is meant is ambiguous. Move the root package "
                f"({CONFIG_FILE} and what sits beside it) to a folder of its own, or pass a version folder."
            )
        return path
    if not versions:
        raise ModelLoadError(
            f"No predictor package in '{path}' (no {CONFIG_FILE} in it or in a version folder under it). Train one "
            "with `kedro run --pipeline <strategy>`, or give an MLflow URI such as models:/pediatric_pneumonia_baseline@best."
        )
    return versions[-1].parent
