"""``Predictor``: a trained classifier with everything needed to use it on new X-rays, and the
one place where images become probabilities.

It wraps a predictor package (``package.py``): the Keras model plus the preprocessing it was trained
with, the validation-fitted calibration and the validation-chosen decision threshold. Everything
that scores a model scores through it: the test report, the stress report, the explanations, the
model card's figures, the MLflow model, the CLI and the web app. Images are read through the
pipeline's own ``imaging.preprocess.stored_image``; probabilities are ``normalise -> model ->
calibrate`` (``probabilities``) and the label cuts them at the threshold (``label_for``).
"""

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..data_layout import labelled_files
from ..evaluation.calibration import apply_calibration
from ..evaluation.site import SiteEvaluation, score_site, site_report
from ..explain import grad_cam
from ..imaging.decode import DEFAULT_MAX_PIXELS, ImageDecodeError, to_grayscale_uint8
from ..imaging.preprocess import as_model_input, fit_to_square, stored_image
from ..models.classifier import predict_probabilities
from .loading import resolved_package
from .package import (
    CONFIG_FILE,
    CONFIG_KEYS,
    MODEL_FILE,
    PACKAGE_FORMAT_VERSION,
    ModelLoadError,
    check_package_config,
    package_folder,
    read_package,
    write_package,
)

__all__ = [
    "CONFIG_FILE",
    "CONFIG_KEYS",
    "MODEL_FILE",
    "PACKAGE_FORMAT_VERSION",
    "Explanation",
    "ModelLoadError",
    "Prediction",
    "Predictor",
    "load_predictor",
    "package_folder",
]

# Images per model call when a package does not say (packages record params:inference.batch_size).
DEFAULT_BATCH_SIZE = 64

ImageInput = str | Path | bytes | np.ndarray


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


@dataclass(frozen=True)
class Explanation:
    """One image's prediction with the evidence for it: the square image the model saw (uint8, as
    stored) and the Grad-CAM map of the pneumonia output over it (values in [0, 1])."""

    prediction: Prediction
    stored_image: np.ndarray
    heatmap: np.ndarray


class Predictor:
    """A classifier plus its preprocessing, calibration and decision threshold.

    ``probability`` is the calibrated probability of the positive class (the last of ``classes``);
    the label is positive when it is at or above ``threshold``, exactly as in the test report.
    """

    def __init__(self, classifier: keras.Model, config: dict, name: str = "predictor") -> None:
        check_package_config(config, classifier.input_shape[1:], name)
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

    @property
    def batch_size(self) -> int:
        return int(self.config.get("inference", {}).get("batch_size", DEFAULT_BATCH_SIZE))

    @classmethod
    def load(cls, model: str | Path | None = None, project_path: str | Path = ".", env: str | None = None) -> "Predictor":
        """Load from a package folder, an MLflow URI or a strategy name (see ``loading.resolved_package``)."""
        with resolved_package(model, project_path, env) as (folder, name):
            predictor = cls.from_package(folder)
        predictor.name = name
        return predictor

    @classmethod
    def from_package(cls, folder: str | Path) -> "Predictor":
        """Load a package folder (``classifier.keras`` + ``predictor.json``)."""
        classifier, config = read_package(folder)
        return cls(classifier, config, name=str(folder))

    def save(self, folder: str | Path) -> None:
        """Write the package into ``folder`` (created; must not hold another package)."""
        write_package(folder, self.classifier, self.config)

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

    def model_input(self, stored_images: np.ndarray) -> np.ndarray:
        """(N, H, W) stored uint8 images as the model is fed them: (N, H, W, 1) float32, normalised."""
        return as_model_input(stored_images, self.preprocessing["intensity"])

    def raw_probabilities(self, stored_images: np.ndarray) -> np.ndarray:
        """The model's uncalibrated probability of the positive class per (N, H, W) stored image."""
        with self._lock:
            return predict_probabilities(self.classifier, stored_images, self.preprocessing["intensity"], self.batch_size)

    def calibrate(self, raw_probabilities: np.ndarray) -> np.ndarray:
        """The package's validation-fitted calibration applied to raw probabilities."""
        return np.asarray(apply_calibration(raw_probabilities, self.config["calibration"]), dtype=np.float64)

    def probabilities(self, stored_images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the positive class for (N, H, W) stored uint8 images."""
        return self.calibrate(self.raw_probabilities(stored_images))

    def heatmaps(self, stored_images: np.ndarray, layer: str | None = None) -> np.ndarray:
        """Grad-CAM maps (N, H, W) of the pneumonia output for stored images; ``layer`` defaults to
        the model's last convolution."""
        with self._lock:
            return grad_cam(self.classifier, self.model_input(stored_images), layer)

    def explain(self, image: ImageInput, source: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Explanation:
        """Predict one image and explain it with Grad-CAM; raises ImageDecodeError when it cannot be read."""
        stored = self.stored_image(image, source, max_pixels)[np.newaxis]
        probability = float(self.probabilities(stored)[0])
        prediction = Prediction(source, self.label_for(probability), probability, self.threshold)
        return Explanation(prediction, stored[0], self.heatmaps(stored)[0])

    def evaluate(self, data: str | Path, reporting: dict, bins: int, patient_key: str = "person_and_subtype") -> SiteEvaluation:
        """The test report on a labelled folder (``NORMAL/``, ``PNEUMONIA/``) or CSV (``path,label[,patient]``)
        of another site (``evaluation.site``); ``reporting`` is the reporting parameter group, ``bins``
        the calibration's. ``write_site_report`` writes it."""
        return site_report(self, score_site(self, labelled_files(data, self.classes, patient_key)), reporting, bins)

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


def load_predictor(model: str | Path | None = None, project_path: str | Path = ".", env: str | None = None) -> Predictor:
    """``Predictor.load`` as a function: a package folder, an MLflow URI or a strategy name."""
    return Predictor.load(model, project_path, env)
