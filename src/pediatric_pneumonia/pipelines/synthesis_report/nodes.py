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
from ...tracking import to_mlflow_metrics


def too_few_images(images: dict[str, np.ndarray], nearest_k: int) -> str | None:
    """Why a class's sets are too small for the k-NN figures (each k-NN ball needs k other images,
    the real-vs-real halves too), or None."""
    needed = {"synthetic": nearest_k + 1, "training": 2 * (nearest_k + 1), "held_out": 1}
    short = [f"{name} {len(images[name])} < {count}" for name, count in needed.items() if len(images[name]) < count]
    return f"too few images for synthesis_report.nearest_k {nearest_k}: " + ", ".join(short) if short else None


def assess_class_images(
    extractor: keras.Model,
    images: dict[str, np.ndarray],
    report: SynthesisReport,
    intensity: dict,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Quality, diversity and memorization of one class's ``synthetic`` images against its real
    ``training`` and ``held_out`` images; returns the scores and the images the plots show."""
    features = {name: embed(extractor, sample, intensity, report.batch_size) for name, sample in images.items()}
    pixels = {name: sample.reshape(len(sample), -1) / 255.0 for name, sample in images.items()}
    scores, pixel_distance, pixel_index = synthetic_image_scores(
        features, pixels, report.nearest_k, report.memorization_percentile
    )
    synthetic, training = images["synthetic"], images["training"]
    closest = np.argsort(pixel_distance)[: report.closest_pairs]
    shown = {
        "synthetic": synthetic[: report.grid_images],
        "real": training[: report.grid_images],
        "closest": np.stack([image for i in closest for image in (synthetic[i], training[pixel_index[i]])]),
    }
    return scores, shown


def assess_synthetic_images(
    classifier: keras.Model,
    train_set: dict,
    validation_set: dict,
    synthetic_set: dict,
    classes: list[str],
    report: SynthesisReport,
    preprocessing: Preprocessing,
) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
    """Quality, diversity and memorization of the synthetic images of each class against real ones
    of the same class.

    Real training images are what the class's GAN learnt from; the validation images of the class
    are real images it never saw (the held-out reference). Returns the report (``gan_profile``,
    ``feature_space`` and ``classes``: the figures of each class with synthetic images, or its
    counts and why it was ``not_assessed`` when a set is too small) and, per assessed class, the
    image sets the plots show (``synthetic``, ``real``, and ``closest`` synthetic/real pairs).
    """
    rng = np.random.default_rng(report.seed)
    extractor = feature_extractor(classifier)
    figures, shown = {}, {}
    for label in np.unique(synthetic_set["labels"]):
        name = classes[label]
        images = {
            "training": subsample(class_images(train_set, classes, name), report.max_images, rng),
            "held_out": subsample(class_images(validation_set, classes, name), report.max_images, rng),
            "synthetic": subsample(synthetic_set["images"][synthetic_set["labels"] == label], report.max_images, rng),
        }
        counts = {f"n_{set_name}": len(sample) for set_name, sample in images.items()}
        if reason := too_few_images(images, report.nearest_k):
            figures[name] = {**counts, "not_assessed": reason}
            continue
        scores, shown[name] = assess_class_images(extractor, images, report, preprocessing.intensity.plain())
        figures[name] = {**scores, **counts}
    metrics = {
        "gan_profile": "+".join(synthetic_image_profiles(synthetic_set["paths"])) or "unknown",
        "feature_space": "baseline classifier, last conv block, global average pooled",
        "classes": figures,
    }
    return metrics, shown


def synthesis_report_metrics(synthesis_report: dict) -> dict[str, dict[str, float]]:
    """The report's numeric figures in kedro-mlflow's format, each class's named ``<class>.<figure>``
    (``normal.kid``; the catalog adds the ``synthesis.`` prefix)."""
    return to_mlflow_metrics(
        {
            f"{name.lower()}.{figure}": value
            for name, figures in synthesis_report["classes"].items()
            for figure, value in figures.items()
        }
    )


def no_class_assessed(figure: Figure) -> Figure:
    """``figure`` saying that no class had enough synthetic images to show."""
    axes = figure.subplots()
    axes.text(0.5, 0.5, "no class had enough images to assess (synthesis_report.json)", ha="center", va="center")
    axes.axis("off")
    return figure


def plot_sample_grids(shown: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Random synthetic images beside random real ones of the same class, a row per class."""
    figure = Figure(figsize=(12, 6 * max(len(shown), 1)), layout="constrained")
    if not shown:
        return no_class_assessed(figure)
    rows = np.atleast_2d(figure.subplots(len(shown), 2))
    for row, (class_name, images) in zip(rows, shown.items()):
        for axes, name in zip(row, ("synthetic", "real")):
            axes.imshow(image_grid(images[name]), cmap="gray", vmin=0, vmax=255)
            axes.set_title(f"{name} {class_name} images")
            axes.axis("off")
    return figure


def plot_closest_pairs(shown: dict[str, dict[str, np.ndarray]]) -> Figure:
    """Synthetic images nearest to a training image (pixels), each beside that training image, a
    column per class."""
    figure = Figure(figsize=(6 * max(len(shown), 1), 12), layout="constrained")
    if not shown:
        return no_class_assessed(figure)
    for axes, (class_name, images) in zip(np.atleast_1d(figure.subplots(1, len(shown))), shown.items()):
        axes.imshow(image_grid(images["closest"], columns=2), cmap="gray", vmin=0, vmax=255)
        axes.set_title(f"{class_name}: synthetic (left) | nearest training image (right)")
        axes.axis("off")
    return figure
