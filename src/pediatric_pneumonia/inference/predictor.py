"""``Predictor``: a trained classifier with everything needed to use it on new X-rays, and the
one place where images become probabilities.

It wraps a predictor package (``package.py``): the Keras model plus the preprocessing it was trained
with, the validation-fitted calibration and the validation-chosen decision threshold. Everything
that scores a model scores through it: the test report, the stress report, the explanations, the
model card's figures, the MLflow model, the CLI and the web app. Images are read through the
pipeline's own ``imaging.preprocess.stored_image``; probabilities are ``normalise -> model ->
calibrate`` (``probabilities``; with test-time augmentation, the model's logit is averaged over
views of the image) and the label cuts them at the threshold (``label_for``).
A package with a shift reference (format 2) also scores how unlike the validation images each
image is (``ood_scores``, in every ``Prediction``) and tests a set of images for dataset shift
(``check_shift``; ``evaluation.shift``).
"""

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from ..data_layout import labelled_files
from ..evaluation.calibration import apply_calibration
from ..evaluation.frames import class_column, pneumonia_probability
from ..evaluation.shift import MIN_SHIFT_CHECK_IMAGES, OutOfDistributionScorer, shift_report
from ..explain import grad_cam
from ..imaging.decode import DEFAULT_DECODE_LIMITS, DecodeLimits, ImageDecodeError, to_grayscale_uint8
from ..imaging.preprocess import as_model_input, fit_to_square, stored_image
from ..imaging.tta import tta_transforms
from ..models.classifier import predict_probabilities, squeezed
from ..models.ensemble import is_ensemble
from ..models.features import feature_extractor
from ..models.outputs import model_outputs
from .loading import resolved_package
from .package import (
    CONFIG_FILE,
    CONFIG_KEYS,
    MODEL_FILE,
    PACKAGE_FORMAT_VERSION,
    ModelLoadError,
    NoShiftReferenceError,
    check_package_config,
    package_folder,
    read_package,
    read_shift_reference,
    write_package,
)

if TYPE_CHECKING:
    from ..evaluation.site import SiteEvaluation

__all__ = [
    "CONFIG_FILE",
    "CONFIG_KEYS",
    "MODEL_FILE",
    "PACKAGE_FORMAT_VERSION",
    "Explanation",
    "ModelLoadError",
    "NoShiftReferenceError",
    "Prediction",
    "Predictor",
    "load_predictor",
    "package_folder",
]

# Images per model call when a package does not say (packages record params:inference.batch_size).
DEFAULT_BATCH_SIZE = 64

ImageInput = str | Path | bytes | np.ndarray
OOD_WARNING = (
    "This image looks unlike the images the model was validated on (out-of-distribution score {score:.1f}, "
    "over {cutoff:g}): do not trust its prediction without a closer look."
)


@dataclass(frozen=True)
class Prediction:
    """The answer for one image. ``error`` is set (and the rest None) when the image could not be read.

    ``probability`` is the calibrated P(pneumonia) and ``threshold`` the validation-chosen cut-off
    on it, for every model; a model of more than two classes also gives ``probabilities`` (each
    class's), and its ``label`` is the most probable class."""

    source: str
    label: str | None
    probability: float | None
    threshold: float
    error: str | None = None
    # Packages with a shift reference: how unlike the validation images the image is (a percentile
    # of their own nearest-neighbour distances, 0-100) and a plain warning over the package's cut-off.
    ood_score: float | None = None
    ood_warning: str | None = None
    probabilities: dict[str, float] | None = None

    def as_dict(self) -> dict:
        """The fields as a flat dict: a K-class model's probabilities as ``probability_<CLASS>``."""
        fields = asdict(self)
        probabilities = fields.pop("probabilities")
        return fields | {class_column("probability", name): value for name, value in (probabilities or {}).items()}


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

    def __init__(
        self,
        classifier: keras.Model,
        config: dict,
        name: str = "predictor",
        shift_reference: dict[str, np.ndarray] | None = None,
    ) -> None:
        check_package_config(config, classifier.input_shape[1:], name, classifier.output_shape[-1])
        if (shift_reference is None) != (config.get("shift_reference") is None):
            raise ModelLoadError(
                f"'{name}': predictor.json's shift_reference and the reference arrays go together (one is missing)."
            )
        self.classifier = classifier
        self.config = config
        self.name = name
        self.shift_reference = shift_reference
        # Keras models are not guaranteed safe under concurrent calls (the web app serves threads).
        self._lock = threading.Lock()
        self._probabilities_and_features: keras.Model | None = None
        self._features: keras.Model | None = None
        self._ood_scorer: OutOfDistributionScorer | None = None

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def threshold(self) -> float:
        return float(self.config["decision"]["threshold"])

    @property
    def caveats(self) -> list[str]:
        """What the package's provenance says its operating point cannot be trusted for (a
        recalibration on few or separated labels, wide intervals); empty for a trained package."""
        return list(self.config.get("provenance", {}).get("limits", []))

    @property
    def preprocessing(self) -> dict:
        return self.config["preprocessing"]

    def label_for(self, probability: float | np.ndarray) -> str:
        """The class called for one image's calibrated probability: the positive class at or above
        the threshold; for a K-class model's probabilities (K,), the most probable class."""
        if np.ndim(probability) == 1:
            return self.classes[int(np.argmax(probability))]
        return self.classes[-1] if probability >= self.threshold else self.classes[0]

    @property
    def batch_size(self) -> int:
        return int(self.config.get("inference", {}).get("batch_size", DEFAULT_BATCH_SIZE))

    @property
    def tta(self) -> dict | None:
        """The package's test-time augmentation (``inference.tta``); None (off) in packages before it."""
        return self.config.get("inference", {}).get("tta")

    @classmethod
    def load(
        cls, model: str | Path | None = None, project_path: str | Path = ".", env: str | None = None
    ) -> "Predictor":
        """Load from a package folder, an MLflow URI or a strategy name (see ``loading.resolved_package``)."""
        with resolved_package(model, project_path, env) as (folder, name):
            predictor = cls.from_package(folder)
        predictor.name = name
        return predictor

    @classmethod
    def from_package(cls, folder: str | Path) -> "Predictor":
        """Load a package folder (``classifier.keras`` + ``predictor.json``)."""
        classifier, config = read_package(folder)
        return cls(classifier, config, name=str(folder), shift_reference=read_shift_reference(folder, config))

    def save(self, folder: str | Path) -> None:
        """Write the package into ``folder`` (created; must not hold another package)."""
        write_package(folder, self.classifier, self.config, self.shift_reference)

    def stored_image(self, image: ImageInput, source: str, limits: DecodeLimits = DEFAULT_DECODE_LIMITS) -> np.ndarray:
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
                raise ImageDecodeError(
                    f"'{path}' could not be read ({error.strerror}). Check its permissions."
                ) from error
            return stored_image(content, str(path), preprocessing, limits)
        if isinstance(image, bytes):
            return stored_image(image, source, preprocessing, limits)
        return fit_to_square(
            grayscale_array(image, source),
            preprocessing["image_size"],
            preprocessing["geometry"],
            preprocessing["border_crop"],
        )

    def model_input(self, stored_images: np.ndarray) -> np.ndarray:
        """(N, H, W) stored uint8 images as the model is fed them: (N, H, W, 1) float32, normalised."""
        return as_model_input(stored_images, self.preprocessing["intensity"])

    def raw_probabilities(self, stored_images: np.ndarray) -> np.ndarray:
        """The model's uncalibrated probability of the positive class per (N, H, W) stored image,
        averaged over the package's test-time augmentation views when it has any (as logits)."""
        with self._lock:
            return predict_probabilities(
                self.classifier, stored_images, self.preprocessing["intensity"], self.batch_size, self.tta
            )

    def calibrate(self, raw_probabilities: np.ndarray) -> np.ndarray:
        """The package's validation-fitted calibration applied to raw probabilities."""
        return np.asarray(apply_calibration(raw_probabilities, self.config["calibration"]), dtype=np.float64)

    def probabilities(self, stored_images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the positive class for (N, H, W) stored uint8 images."""
        return self.calibrate(self.raw_probabilities(stored_images))

    def heatmaps(
        self, stored_images: np.ndarray, layer: str | None = None, class_index: np.ndarray | None = None
    ) -> np.ndarray:
        """Grad-CAM maps (N, H, W) of the pneumonia output for stored images (of a K-class model:
        of each image's ``class_index``, by default the network's most probable class; of an
        ensemble: the mean of its members' maps), on the image itself, never a test-time
        augmentation view; ``layer`` defaults to the model's last convolution."""
        with self._lock:
            return grad_cam(self.classifier, self.model_input(stored_images), layer, class_index=class_index)

    @property
    def shift_settings(self) -> dict:
        """The shift check's settings recorded at training (``params:shift``); NoShiftReferenceError
        for a package without a shift reference."""
        if self.shift_reference is None:
            raise NoShiftReferenceError(self.name, self.config.get("format_version"))
        return self.config["shift_reference"]["settings"]

    def features(self, stored_images: np.ndarray) -> np.ndarray:
        """Feature vectors (N, D) of stored images: the pooled feature map the shift reference was
        taken from (``shift_reference.feature_layer``; by default the model's last one)."""
        return self.probabilities_and_features(stored_images)[1]

    def probabilities_and_features(self, stored_images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and feature vectors of stored images in one pass through the
        model (the same weights and operations as ``raw_probabilities``, one more output), so an
        out-of-distribution score costs no second pass. With test-time augmentation or a seed
        ensemble, the probabilities are ``probabilities`` and the features a second pass of the
        image itself (of the first member), as the shift reference was taken."""
        if tta_transforms(self.tta) or is_ensemble(self.classifier):
            probabilities = self.probabilities(stored_images)
            with self._lock:
                if self._features is None:
                    self._features = feature_extractor(self.classifier, self._feature_layer())
                features = model_outputs(self._features, self.model_input(stored_images), self.batch_size)
            return probabilities, features.astype(np.float64)
        with self._lock:
            if self._probabilities_and_features is None:
                pooled = feature_extractor(self.classifier, self._feature_layer()).output
                self._probabilities_and_features = keras.Model(self.classifier.inputs, [self.classifier.output, pooled])
            raw, features = model_outputs(
                self._probabilities_and_features, self.model_input(stored_images), self.batch_size
            )
        return self.calibrate(squeezed(raw)), features.astype(np.float64)

    def _feature_layer(self) -> str | None:
        return (self.config.get("shift_reference") or {}).get("feature_layer")

    def ood_scores(self, stored_images: np.ndarray) -> np.ndarray | None:
        """Each stored image's out-of-distribution score (0-100; ``evaluation.shift``) against the
        package's shift reference, or None for a package without one."""
        if self.shift_reference is None:
            return None
        return self._scorer().scores(self.features(stored_images))

    def probabilities_and_ood_scores(self, stored_images: np.ndarray) -> tuple[np.ndarray, list[float | None]]:
        """Calibrated probabilities and out-of-distribution scores (None each without a shift
        reference) of stored images, in one pass through the model."""
        if self.shift_reference is None:
            return self.probabilities(stored_images), [None] * len(stored_images)
        probabilities, features = self.probabilities_and_features(stored_images)
        return probabilities, [float(score) for score in self._scorer().scores(features)]

    def _scorer(self) -> OutOfDistributionScorer:
        if self._ood_scorer is None:
            self._ood_scorer = OutOfDistributionScorer(
                self.shift_reference["features"], self.shift_settings["neighbours"]
            )
        return self._ood_scorer

    def ood_warning(self, score: float | None) -> str | None:
        """The plain warning for an out-of-distribution score over the package's cut-off, else None."""
        if score is None or score <= (cutoff := self.shift_settings["warning_percentile"]):
            return None
        return OOD_WARNING.format(score=score, cutoff=cutoff)

    def check_shift(self, stored_images: np.ndarray, **overrides) -> dict:
        """Test stored images (N >= 2, no labels) for dataset shift against the package's validation
        reference: the MMD permutation test in the model's feature space, the predicted prevalence,
        the out-of-distribution scores (``evaluation.shift.shift_report``; per image under
        ``image_scores``). ``overrides`` replace recorded settings (``permutations``, ``alpha``, ...).
        The prevalence is of pneumonia (P(pneumonia) at the threshold, for a K-class model too).
        Raises NoShiftReferenceError for a package without a reference."""
        settings = {**self.shift_settings, **overrides}
        if len(stored_images) < MIN_SHIFT_CHECK_IMAGES:
            raise ValueError(
                f"A shift check needs at least {MIN_SHIFT_CHECK_IMAGES} readable images, got {len(stored_images)}."
            )
        probabilities, features = self.probabilities_and_features(stored_images)
        scores = self._scorer().scores(features)
        report = shift_report(
            self.shift_reference["features"],
            pneumonia_probability(self.shift_reference["probabilities"]),
            features,
            pneumonia_probability(probabilities),
            scores,
            self.threshold,
            settings,
        )
        return {**report, "image_scores": [float(score) for score in scores]}

    def explain(self, image: ImageInput, source: str, limits: DecodeLimits = DEFAULT_DECODE_LIMITS) -> Explanation:
        """Predict one image and explain it with Grad-CAM; raises ImageDecodeError when it cannot be read."""
        stored = self.stored_image(image, source, limits)[np.newaxis]
        probabilities, scores = self.probabilities_and_ood_scores(stored)
        prediction = self._prediction(source, probabilities[0], scores[0])
        # A K-class map explains the class the prediction names, from the probabilities already computed.
        chosen = np.argmax(probabilities, axis=1) if np.ndim(probabilities) == 2 else None
        return Explanation(prediction, stored[0], self.heatmaps(stored, class_index=chosen)[0])

    def evaluate(
        self, data: str | Path, reporting: dict, bins: int, patient_key: str = "person_and_subtype"
    ) -> "SiteEvaluation":
        """The test report on a labelled folder (``NORMAL/``, ``PNEUMONIA/``) or CSV (``path,label[,patient]``)
        of another site (``evaluation.site``); ``reporting`` is the reporting parameter group, ``bins``
        the calibration's. ``write_site_report`` writes it."""
        # Here, not at the top: the report draws with matplotlib, which a served model never needs.
        from ..evaluation.site import score_site, site_report

        return site_report(self, score_site(self, labelled_files(data, self.classes, patient_key)), reporting, bins)

    def predict(
        self, image: ImageInput, source: str | None = None, limits: DecodeLimits = DEFAULT_DECODE_LIMITS
    ) -> Prediction:
        """Predict one image; raises ImageDecodeError (with the reason) when it cannot be read."""
        return self.predict_batch([image], [source] if source else None, limits=limits)[0]

    def predict_batch(
        self,
        images: Sequence[ImageInput],
        sources: Sequence[str] | None = None,
        skip_errors: bool = False,
        limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
    ) -> list[Prediction]:
        """Predict many images in one model call, in order; ``limits`` bound what each decode may cost.

        With ``skip_errors``, an image that cannot be read gets a ``Prediction`` with its ``error``
        and the others are still predicted; otherwise the first unreadable image raises.
        """
        sources = (
            list(sources)
            if sources is not None
            else [describe_source(image, index) for index, image in enumerate(images)]
        )
        stored, errors = [], {}
        for index, (image, source) in enumerate(zip(images, sources)):
            try:
                stored.append(self.stored_image(image, source, limits))
            except ImageDecodeError as error:
                if not skip_errors:
                    raise
                errors[index] = str(error)
        scored = iter(zip(*self.probabilities_and_ood_scores(np.stack(stored)))) if stored else iter([])
        predictions = []
        for index, source in enumerate(sources):
            if index in errors:
                predictions.append(Prediction(source, None, None, self.threshold, errors[index]))
                continue
            probability, score = next(scored)
            predictions.append(self._prediction(source, probability, score))
        return predictions

    def _prediction(self, source: str, probability: float | np.ndarray, ood_score: float | None) -> Prediction:
        """One image's Prediction from its calibrated probability (of a K-class model: the (K,) row)."""
        warning = self.ood_warning(ood_score)
        if np.ndim(probability) == 0:
            return Prediction(
                source, self.label_for(probability), float(probability), self.threshold, None, ood_score, warning
            )
        row = np.asarray(probability, dtype=np.float64)
        return Prediction(
            source,
            self.label_for(row),
            float(pneumonia_probability(row[np.newaxis])[0]),
            self.threshold,
            None,
            ood_score,
            warning,
            probabilities={name: float(value) for name, value in zip(self.classes, row)},
        )


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


def load_predictor(
    model: str | Path | None = None, project_path: str | Path = ".", env: str | None = None
) -> Predictor:
    """``Predictor.load`` as a function: a package folder, an MLflow URI or a strategy name."""
    return Predictor.load(model, project_path, env)
