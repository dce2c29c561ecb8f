"""Are the synthetic images any good, and do they copy training patients?

Distances are taken in the ``baseline`` classifier's feature space (``models.features``)
and in pixels; the measures are in ``evaluation.synthesis``.
"""

import keras
import numpy as np
from matplotlib.figure import Figure

from ...evaluation.synthesis import subsample, synthetic_image_scores
from ...imaging.grids import class_images, image_grid
from ...models.features import embed, feature_extractor
from ...naming import synthetic_image_profiles
from ...parameters import Preprocessing, SynthesisReport


def assess_synthetic_images(
    classifier: keras.Model,
    train_set: dict,
    validation_set: dict,
    synthetic_set: dict,
    classes: list[str],
    target_class: str,
    report: SynthesisReport,
    preprocessing: Preprocessing,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Quality, diversity and memorization of the synthetic images against real ones of the same class.

    Real training images are what the GAN learnt from; the validation images of the class are
    real images it never saw (the held-out reference). Returns the flat report and the image
    sets that the plots show (``synthetic``, ``real``, and ``closest`` synthetic/real pairs).
    """
    rng = np.random.default_rng(report.seed)
    images = {
        "training": subsample(class_images(train_set, classes, target_class), report.max_images, rng),
        "held_out": subsample(class_images(validation_set, classes, target_class), report.max_images, rng),
        "synthetic": subsample(synthetic_set["images"], report.max_images, rng),
    }
    extractor = feature_extractor(classifier)
    intensity, batch_size = preprocessing.intensity.plain(), report.batch_size
    features = {name: embed(extractor, sample, intensity, batch_size) for name, sample in images.items()}
    pixels = {name: sample.reshape(len(sample), -1) / 255.0 for name, sample in images.items()}
    scores, pixel_distance, pixel_index = synthetic_image_scores(
        features, pixels, report.nearest_k, report.memorization_percentile
    )
    metrics = {
        "gan_profile": "+".join(synthetic_image_profiles(synthetic_set["paths"])) or "unknown",
        **scores,
        "n_synthetic": len(images["synthetic"]),
        "n_training": len(images["training"]),
        "n_held_out": len(images["held_out"]),
        "feature_space": "baseline classifier, last conv block, global average pooled",
    }
    synthetic, training = images["synthetic"], images["training"]
    closest = np.argsort(pixel_distance)[: report.closest_pairs]
    shown = {
        "synthetic": synthetic[: report.grid_images],
        "real": training[: report.grid_images],
        "closest": np.stack([image for i in closest for image in (synthetic[i], training[pixel_index[i]])]),
    }
    return metrics, shown


def plot_sample_grids(shown: dict[str, np.ndarray]) -> Figure:
    """Random synthetic images beside random real ones of the same class."""
    figure = Figure(figsize=(12, 6), layout="constrained")
    for axes, name in zip(figure.subplots(1, 2), ("synthetic", "real")):
        axes.imshow(image_grid(shown[name]), cmap="gray", vmin=0, vmax=255)
        axes.set_title(f"{name} images")
        axes.axis("off")
    return figure


def plot_closest_pairs(shown: dict[str, np.ndarray]) -> Figure:
    """Synthetic images nearest to a training image (pixels), each beside that training image."""
    figure = Figure(figsize=(6, 12), layout="constrained")
    axes = figure.subplots()
    axes.imshow(image_grid(shown["closest"], columns=2), cmap="gray", vmin=0, vmax=255)
    axes.set_title("closest pairs: synthetic (left) | nearest training image (right)")
    axes.axis("off")
    return figure
