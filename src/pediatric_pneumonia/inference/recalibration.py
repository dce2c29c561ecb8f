"""Recalibration at a new site: the temperature and the decision threshold refitted on the site's
labelled images with the training's own functions (``calibration_from_validation``,
``choose_decision``), optionally after AdaBN (Li et al. 2016: every BatchNormalization layer's
moving mean and variance re-estimated on the site's images), as a NEW predictor package whose
``provenance`` says what it was made from. The base package is never changed.

A K-class model (NORMAL, BACTERIA, VIRUS) is recalibrated the same way: its one softmax
temperature refitted on the site's labels of every class, and the threshold on P(pneumonia) =
1 - P(NORMAL) refitted with the same rule, so its decision stays the argmax label and that threshold.
"""

import hashlib
import logging
from pathlib import Path

import keras
import numpy as np

from ..data_layout import where_labels_go
from ..evaluation.calibration import apply_calibration, calibration_from_validation, temperature_at_bound
from ..evaluation.frames import probabilities_of, with_probabilities
from ..evaluation.metrics import class_counts
from ..evaluation.multiclass import binary_view
from ..evaluation.report import interval_figures
from ..evaluation.site import ScoredSite
from ..evaluation.thresholds import choose_decision
from ..parameters import Group, Site
from .package import CONFIG_FILE, MODEL_FILE
from .predictor import Predictor

logger = logging.getLogger(__name__)


class RecalibrationError(ValueError):
    """The site's set cannot be recalibrated on (a class missing), or the output would overwrite a package."""


def content_fingerprint(paths: list[str]) -> str:
    """SHA-256 of the sorted SHA-256 hashes of the files' contents: the same images give the same
    fingerprint whatever their names, order or folder."""
    hashes = sorted(hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths)
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def adapted_batchnorm(classifier: keras.Model, model_inputs: np.ndarray, batch_size: int) -> tuple[keras.Model, int]:
    """A copy of ``classifier`` whose BatchNormalization layers' moving mean and variance are the
    statistics of their inputs on ``model_inputs`` (AdaBN), layer by layer in order, so each layer
    sees the inputs its already adapted predecessors give. Returns the copy and how many layers
    were adapted; the original is not changed."""
    adapted = keras.models.clone_model(classifier)
    adapted.set_weights(classifier.get_weights())
    layers = [layer for layer in adapted.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        inputs = keras.Model(adapted.inputs, layer.input).predict(model_inputs, batch_size=batch_size, verbose=0)
        axes = tuple(axis for axis in range(inputs.ndim) if axis != layer.axis % inputs.ndim)
        layer.moving_mean.assign(inputs.mean(axis=axes))
        layer.moving_variance.assign(inputs.var(axis=axes))
    return adapted, len(layers)


def classes_separated(targets: np.ndarray, probabilities: np.ndarray) -> bool:
    """Whether no temperature is the likeliest (the likelihood improves without limit as it falls):
    for (N,) probabilities, every PNEUMONIA image scores above every NORMAL one; for (N, K), every
    image's own class is strictly its most probable one (an argmax accuracy of 1)."""
    if np.ndim(probabilities) == 2:
        own = probabilities[np.arange(len(targets)), targets]
        others = np.where(np.eye(probabilities.shape[1], dtype=bool)[targets], -np.inf, probabilities)
        return bool((own > others.max(axis=1)).all())
    return bool(probabilities[targets == 1].min() > probabilities[targets == 0].max())


def site_temperature(fitted: float, base: float, n_images: int, site: Site) -> float:
    """The temperature recalibration keeps, under ``site.few_labels`` when ``n_images`` is below
    ``site.min_images``: ``threshold_only`` the base's, ``shrink`` the geometric mean of the two
    weighted by ``n_images`` and ``site.min_images``, ``refit`` the fitted one (as from
    ``site.min_images`` images on)."""
    if n_images >= site.min_images or site.few_labels == "refit":
        return fitted
    if site.few_labels == "shrink":
        weight = n_images / (n_images + site.min_images)
        return float(np.exp(weight * np.log(fitted) + (1 - weight) * np.log(base)))
    return base


def refit_operating_point(
    targets: np.ndarray, raw_probabilities: np.ndarray, base_temperature: float, settings: dict[str, Group]
) -> tuple[dict, dict, list[str]]:
    """The calibration (``calibration.method``) and decision (``threshold.method``; for (N, K)
    probabilities the argmax and a threshold on P(pneumonia)) fitted on a site's labels, as training
    fits them on validation (``choose_decision``), within what the labels can support:
    the base's temperature is kept when the classes are separated or the fit sits at its search
    bound, and below ``site.min_images`` images ``site.few_labels`` decides. Returns the
    calibration, the decision and the limits met, one plain sentence each.

    Raises:
        RecalibrationError: under ``site.min_images`` images when ``site.few_labels`` is ``refuse``.
    """
    calibration, site = settings["calibration"], settings["site"]
    n_images, limits = len(targets), []
    if n_images < site.min_images:
        if site.few_labels == "refuse":
            raise RecalibrationError(
                f"Only {n_images} labelled images, fewer than site.min_images = {site.min_images}, and site.few_labels "
                "is 'refuse': label more images, or set site.few_labels to threshold_only (conf/base/parameters_site.yml)."
            )
        limits.append(
            f"recalibrated on {n_images} labelled images, fewer than site.min_images = {site.min_images}"
            + ("" if site.few_labels == "refit" else f" (site.few_labels: {site.few_labels})")
        )
    fitted = calibration_from_validation(targets, raw_probabilities, calibration)
    temperature = fitted["temperature"]
    if calibration.method == "temperature":
        if classes_separated(targets, raw_probabilities):
            limits.append(
                f"the site's classes are perfectly separated: the base temperature {base_temperature:.3f} is kept"
            )
            temperature = base_temperature
        elif temperature_at_bound(temperature):
            limits.append(
                f"the fitted temperature {temperature:.3f} sits at its search bound: the base temperature "
                f"{base_temperature:.3f} is kept"
            )
            temperature = base_temperature
        else:
            temperature = site_temperature(temperature, base_temperature, n_images, site)
    if temperature != fitted["temperature"]:
        fitted = calibration_from_validation(targets, raw_probabilities, calibration, temperature)
    decision = choose_decision(targets, apply_calibration(raw_probabilities, fitted), settings["threshold"])
    return fitted, decision, limits


def wide_intervals(point: dict, tolerance: float) -> list[str]:
    """A sentence for each of sensitivity and specificity whose interval at the new operating point
    is wider than ``tolerance`` (``site.max_interval_width``)."""
    return [
        f"the {name} interval {point[f'{name}_ci_low']:.3f}-{point[f'{name}_ci_high']:.3f} "
        f"({100 * point['confidence_level']:.0f}%) is wider than site.max_interval_width = {tolerance:.2f}"
        for name in ("sensitivity", "specificity")
        if point[f"{name}_ci_high"] - point[f"{name}_ci_low"] > tolerance
    ]


def require_every_class(targets: np.ndarray, classes: list[str]) -> None:
    """Refuse a site set without images of every class: no temperature or threshold can be fitted on it."""
    counts = class_counts(targets, classes)
    missing = [name for name, count in counts.items() if count == 0]
    if missing:
        held = "one class only" if len(missing) == len(classes) - 1 else f"no {' or '.join(missing)} images"
        raise RecalibrationError(
            f"Cannot recalibrate on {len(targets)} images that hold {held} ({counts}): the threshold and the "
            f"temperature need labelled images of every class ({', '.join(classes)}). Add images of the missing "
            f"class ({'; '.join(f'{name}: {where_labels_go(name)}' for name in missing)})."
        )


def recalibrated_predictor(
    predictor: Predictor,
    scored: ScoredSite,
    settings: dict[str, Group],
    base: dict,
    site_name: str | None = None,
    adapt_batchnorm: bool = False,
) -> Predictor:
    """A new predictor refitted on the scored site: AdaBN first when asked (the images are rescored
    by the adapted model), then temperature and threshold. ``settings`` holds the ``calibration``,
    ``threshold``, ``reporting`` and ``site`` parameter groups; ``base`` describes the base model
    (its URI, registered version or path); ``site_name`` names the site in the provenance. The new
    ``predictor.json`` records ``provenance``, whose ``limits`` lists what the labels could not
    support (too few images, separated classes, a temperature at its bound, wide intervals).

    A K-class predictor keeps its classes: its one temperature and its threshold on P(pneumonia)
    are refitted, and the operating point is that of P(pneumonia).

    Raises:
        RecalibrationError: if the set lacks a class, or too few images under ``site.few_labels: refuse``.
    """
    predictions, classes = scored.predictions, predictor.classes
    targets = predictions["target"].to_numpy()
    require_every_class(targets, classes)
    classifier, adapted_layers = predictor.classifier, 0
    if adapt_batchnorm:
        classifier, adapted_layers = adapted_batchnorm(
            classifier, predictor.model_input(scored.stored_images), predictor.batch_size
        )
    candidate = Predictor(classifier, predictor.config, predictor.name, predictor.shift_reference)
    raw = (
        candidate.raw_probabilities(scored.stored_images)
        if adapt_batchnorm
        else probabilities_of(predictions, "raw_probability", classes)
    )
    base_temperature = predictor.config["calibration"]["temperature"]
    calibration, decision, limits = refit_operating_point(targets, raw, base_temperature, settings)
    calibrated = with_probabilities(predictions, "probability", apply_calibration(raw, calibration), classes)
    reporting = settings["reporting"]
    intervals = interval_figures(
        binary_view(calibrated, classes)[0],  # of P(pneumonia), the threshold's question
        decision["threshold"],
        resamples=reporting.bootstrap_resamples,
        seed=reporting.bootstrap_seed,
        confidence=reporting.confidence_level,
    )
    provenance = {
        "base_model": base,
        "base_calibration": predictor.config["calibration"],
        "base_decision": predictor.config["decision"],
        "base_validation": predictor.config.get("validation"),
        "site": {
            "name": site_name,
            "n_images": int(len(targets)),
            "class_counts": class_counts(targets, classes),
            "n_patients": int(predictions["patient_id"].nunique()),
            "content_fingerprint": content_fingerprint(list(predictions["path"])),
            "n_unreadable": len(scored.unreadable),
        },
        "methods": {
            "calibration": settings["calibration"].method,
            "threshold": settings["threshold"].method,
            "adapt_batchnorm": adapt_batchnorm,
            "batchnorm_layers_adapted": adapted_layers,
        },
        "operating_point": {
            "threshold": decision["threshold"],
            "sensitivity": decision["validation_sensitivity"],
            "specificity": decision["validation_specificity"],
            "confidence_level": reporting.confidence_level,
            # In-sample: fitted and measured on the same images, so optimistic (docs/another-site.md).
            **{
                key: value for key, value in intervals.items() if key.split("_ci_")[0] in ("sensitivity", "specificity")
            },
        },
    }
    limits += wide_intervals(provenance["operating_point"], settings["site"].max_interval_width)
    provenance["limits"] = limits
    for limit in limits:
        logger.info("Recalibration: %s.", limit)
    # The base's validation figures describe the base model on its validation set, not this one:
    # kept under provenance, so the registry never ranks a site's version by them.
    # The shift reference stays the base's validation sample; AdaBN changes the feature space, so an
    # adapted package carries none (check-shift then says so) rather than a reference that always alarms.
    dropped = {"validation", "shift_reference"} if adapt_batchnorm else {"validation"}
    config = {
        **{key: value for key, value in predictor.config.items() if key not in dropped},
        "calibration": {"method": calibration["method"], "temperature": calibration["temperature"]},
        "decision": decision,
        "provenance": provenance,
    }
    reference = None if adapt_batchnorm else predictor.shift_reference
    return Predictor(classifier, config, name=f"{predictor.name} recalibrated", shift_reference=reference)


def save_new_package(predictor: Predictor, folder: str | Path) -> Path:
    """Write ``predictor`` as a package in ``folder``, which must not hold one already.

    Raises:
        RecalibrationError: if ``folder`` already holds a package (it is never overwritten).
    """
    folder = Path(folder)
    if (folder / CONFIG_FILE).exists() or (folder / MODEL_FILE).exists():
        raise RecalibrationError(
            f"'{folder}' already holds a predictor package: it is not overwritten. Give another --output folder."
        )
    predictor.save(folder)
    return folder
