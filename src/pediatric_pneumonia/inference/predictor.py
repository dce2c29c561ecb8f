"""``Predictor``: a trained classifier with everything needed to use it on new X-rays.

A predictor package is a folder with the Keras model (``classifier.keras``) and ``predictor.json``
(class names, the preprocessing it was trained with, the validation-fitted calibration and the
validation-chosen decision threshold). The training pipeline writes one per run; the MLflow model,
the CLI and the web app all load one, and all of them predict through ``Predictor.predict_batch``,
which reads images through the pipeline's own ``imaging.preprocess.stored_image``.
"""

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..evaluation.calibration import apply_calibration
from ..imaging.decode import DEFAULT_MAX_PIXELS, ImageDecodeError, to_grayscale_uint8
from ..imaging.preprocess import as_model_input, fit_to_square, stored_image

PACKAGE_FORMAT_VERSION = 1
MODEL_FILE = "classifier.keras"
CONFIG_FILE = "predictor.json"
CONFIG_KEYS = ("format_version", "classes", "preprocessing", "calibration", "decision")

ImageInput = str | Path | bytes | np.ndarray


class ModelLoadError(ValueError):
    """A predictor could not be loaded: missing, not a model, or inconsistent with its preprocessing."""


@dataclass(frozen=True)
class Prediction:
    """The answer for one image. ``error`` is set (and the rest None) when the image could not be read."""

    source: str
    label: str | None
    probability: float | None
    threshold: float
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class Predictor:
    """A classifier plus its preprocessing, calibration and decision threshold.

    ``probability`` is the calibrated probability of the positive class (the last of ``classes``);
    the label is positive when it is at or above ``threshold``, exactly as in the test report.
    """

    def __init__(self, classifier: keras.Model, config: dict, name: str = "predictor") -> None:
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
        if tuple(classifier.input_shape[1:]) != expected:
            raise ModelLoadError(
                f"The model in '{name}' takes inputs of shape {tuple(classifier.input_shape[1:])}, but its "
                f"preprocessing makes {expected} (image_size {size}). The model and predictor.json do not "
                "belong together: load a package written by the training pipeline."
            )
        self.classifier = classifier
        self.config = config
        self.name = name
        # Keras models are not guaranteed safe under concurrent calls (the web app serves threads).
        self._lock = threading.Lock()

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def threshold(self) -> float:
        return float(self.config["decision"]["threshold"])

    @property
    def preprocessing(self) -> dict:
        return self.config["preprocessing"]

    def label_for(self, probability: float) -> str:
        """The class called for a calibrated probability: the positive class at or above the threshold."""
        return self.classes[-1] if probability >= self.threshold else self.classes[0]

    @classmethod
    def load(cls, model: str | Path | None = None, project_path: str | Path = ".") -> "Predictor":
        """Load from a package folder, an MLflow URI or a strategy name (see ``load_predictor``)."""
        from .loading import load_predictor

        return load_predictor(model, project_path)

    @classmethod
    def from_package(cls, folder: str | Path) -> "Predictor":
        """Load a package folder (``classifier.keras`` + ``predictor.json``). Keras safe mode stays on,
        so loading never runs code from the file."""
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
        return cls(classifier, config, name=str(folder))

    def save(self, folder: str | Path) -> None:
        """Write the package into ``folder`` (created; must not hold another package)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.classifier.save(folder / MODEL_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(self.config, indent=2))

    def stored_image(self, image: ImageInput, source: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """The square uint8 image the pipeline would store for ``image``: a file path, encoded bytes
        (JPEG, PNG, BMP, TIFF or DICOM; sniffed, never guessed from a name) or a decoded array
        (2-D grayscale, or H x W x 3 RGB), resized as the model was trained."""
        preprocessing = self.preprocessing
        if isinstance(image, str | Path):
            path = Path(image)
            if not path.is_file():
                raise ImageDecodeError(f"'{path}' is not a file. Check the path.")
            try:
                content = path.read_bytes()
            except OSError as error:
                raise ImageDecodeError(f"'{path}' could not be read ({error.strerror}). Check its permissions.") from error
            return stored_image(content, str(path), preprocessing, max_pixels)
        if isinstance(image, bytes):
            return stored_image(image, source, preprocessing, max_pixels)
        return fit_to_square(
            grayscale_array(image, source), preprocessing["image_size"], preprocessing["geometry"], preprocessing["border_crop"]
        )

    def probabilities(self, stored_images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Calibrated probabilities of the positive class for (N, H, W) stored uint8 images."""
        model_input = as_model_input(stored_images, self.preprocessing["intensity"])
        with self._lock:
            raw = self.classifier.predict(model_input, batch_size=batch_size, verbose=0).reshape(-1)
        return np.asarray(apply_calibration(raw, self.config["calibration"]), dtype=np.float64)

    def predict(self, image: ImageInput, source: str | None = None) -> Prediction:
        """Predict one image; raises ImageDecodeError (with the reason) when it cannot be read."""
        return self.predict_batch([image], [source] if source else None)[0]

    def predict_batch(
        self, images: Sequence[ImageInput], sources: Sequence[str] | None = None, skip_errors: bool = False
    ) -> list[Prediction]:
        """Predict many images in one model call, in order.

        With ``skip_errors``, an image that cannot be read gets a ``Prediction`` with its ``error``
        and the others are still predicted; otherwise the first unreadable image raises.
        """
        sources = list(sources) if sources is not None else [describe_source(image, index) for index, image in enumerate(images)]
        stored, errors = [], {}
        for index, (image, source) in enumerate(zip(images, sources)):
            try:
                stored.append(self.stored_image(image, source))
            except ImageDecodeError as error:
                if not skip_errors:
                    raise
                errors[index] = str(error)
        probabilities = iter(self.probabilities(np.stack(stored)) if stored else [])
        threshold = self.threshold
        predictions = []
        for index, source in enumerate(sources):
            if index in errors:
                predictions.append(Prediction(source, None, None, threshold, errors[index]))
                continue
            probability = float(next(probabilities))
            predictions.append(Prediction(source, self.label_for(probability), probability, threshold))
        return predictions


def describe_source(image: ImageInput, index: int) -> str:
    """How an input is named in results and errors: its path, or its position."""
    return str(image) if isinstance(image, str | Path) else f"image {index}"


def grayscale_array(image: np.ndarray, source: str) -> np.ndarray:
    """A decoded image array (H x W, or H x W x 1, 3 or 4 in RGB order) as 2-D uint8 grayscale, by
    the decoder's own conversion (``imaging.decode.to_grayscale_uint8``)."""
    array = np.asarray(image)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))) or min(array.shape[:2]) < 1:
        raise ImageDecodeError(
            f"{source}: an image array must be 2-D grayscale or H x W x 3 RGB, got shape {np.shape(image)}."
        )
    return to_grayscale_uint8(array, channel_order="RGB")


def package_folder(path: Path) -> Path:
    """The package in ``path``: ``path`` itself, or the newest version under a versioned dataset
    folder (``<path>/<version>/<name>/``, as Kedro writes ``data/06_models/<strategy>/predictor``)."""
    if path.is_file() and (path.parent / CONFIG_FILE).is_file():
        return path.parent
    if (path / CONFIG_FILE).is_file():
        return path
    versions = sorted(path.glob(f"*/{path.name}/{CONFIG_FILE}")) if path.is_dir() else []
    if not versions:
        raise ModelLoadError(
            f"No predictor package in '{path}' (no {CONFIG_FILE} in it or in a version folder under it). Train one "
            "with `kedro run --pipeline <strategy>`, or give an MLflow URI such as models:/pediatric_pneumonia_baseline@best."
        )
    return versions[-1].parent
