"""Are the synthetic images any good, and do they copy training patients?

Distances are taken in a feature space the project owns: the global-average-pooled output of
the last convolution block of the ``baseline`` classifier, which was trained on real images
only. ImageNet features cannot be downloaded here and judge X-rays poorly anyway.
"""

import keras
import numpy as np
from matplotlib.figure import Figure
from scipy import linalg

from ...imaging.grids import class_images, image_grid
from ...imaging.preprocess import as_model_input
from ...naming import synthetic_image_profiles


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """The classifier cut before ``flatten``, globally average-pooled: one vector per image."""
    last_block = classifier.get_layer("flatten").input
    pooled = keras.layers.GlobalAveragePooling2D(name="pooled_features")(last_block)
    return keras.Model(classifier.inputs, pooled, name="feature_extractor")


def embed(extractor: keras.Model, images: np.ndarray, intensity: dict, batch_size: int) -> np.ndarray:
    """Feature vectors of stored uint8 (N, H, W) images, normalised as the classifier was trained."""
    return extractor.predict(as_model_input(images, intensity), batch_size=batch_size, verbose=0).astype(np.float64)


def kernel_inception_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel (Binkowski et al. 2018)."""
    dimension = first.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / dimension + 1.0) ** 3

    m, n = len(first), len(second)
    within_first = kernel(first, first)
    within_second = kernel(second, second)
    between = kernel(first, second)
    return float(
        (within_first.sum() - np.trace(within_first)) / (m * (m - 1))
        + (within_second.sum() - np.trace(within_second)) / (n * (n - 1))
        - 2 * between.mean()
    )


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root, _ = linalg.sqrtm(cov_first @ cov_second, disp=False)
    return float(mean_gap @ mean_gap + np.trace(cov_first + cov_second - 2 * np.real(root)))


def pairwise_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Euclidean distances between every row of ``first`` and every row of ``second``."""
    squared = (first**2).sum(1)[:, None] + (second**2).sum(1)[None, :] - 2 * first @ second.T
    return np.sqrt(np.maximum(squared, 0.0))


def manifold_precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour balls.

    Precision: share of synthetic samples inside some real sample's k-NN ball (realism).
    Recall: share of real samples inside some synthetic sample's k-NN ball (coverage).
    """

    def radii(points: np.ndarray) -> np.ndarray:
        return np.sort(pairwise_distances(points, points), axis=1)[:, k]  # column 0 is the point itself

    precision = (pairwise_distances(synthetic, real) <= radii(real)[None, :]).any(axis=1).mean()
    recall = (pairwise_distances(real, synthetic) <= radii(synthetic)[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def nearest(queries: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to, and index of, the nearest reference of each query."""
    distances = pairwise_distances(queries, references)
    index = distances.argmin(axis=1)
    return distances[np.arange(len(queries)), index], index


def memorization(
    synthetic: np.ndarray, training: np.ndarray, held_out: np.ndarray, percentile: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """Share of synthetic samples closer to a training sample than ``percentile`` of held-out real ones.

    A real image the GAN never saw is, at its closest, this far from the training set; a
    synthetic image much closer than that is probably a copy. Returns the share, and the
    nearest-training distance and index of every synthetic sample.
    """
    synthetic_distance, synthetic_index = nearest(synthetic, training)
    held_out_distance, _ = nearest(held_out, training)
    limit = np.percentile(held_out_distance, percentile)
    return float((synthetic_distance < limit).mean()), synthetic_distance, synthetic_index


def subsample(images: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``limit`` images drawn without replacement (all of them if fewer)."""
    return images if len(images) <= limit else images[np.sort(rng.choice(len(images), limit, replace=False))]


def assess_synthetic_images(
    classifier: keras.Model,
    train_set: dict,
    validation_set: dict,
    synthetic_set: dict,
    classes: list[str],
    target_class: str,
    report: dict,
    preprocessing: dict,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Quality, diversity and memorization of the synthetic images against real ones of the same class.

    Real training images are what the GAN learnt from; the validation images of the class are
    real images it never saw (the held-out reference). Returns the flat report and the image
    sets that the plots show (``synthetic``, ``real``, and ``closest`` synthetic/real pairs).
    """
    rng = np.random.default_rng(report["seed"])
    training = subsample(class_images(train_set, classes, target_class), report["max_images"], rng)
    held_out = subsample(class_images(validation_set, classes, target_class), report["max_images"], rng)
    synthetic = subsample(synthetic_set["images"], report["max_images"], rng)
    extractor = feature_extractor(classifier)
    features = {
        name: embed(extractor, images, preprocessing["intensity"], report["batch_size"])
        for name, images in (("training", training), ("held_out", held_out), ("synthetic", synthetic))
    }
    half = len(training) // 2
    pixels = {
        name: images.reshape(len(images), -1) / 255.0
        for name, images in (("training", training), ("held_out", held_out), ("synthetic", synthetic))
    }

    precision, recall = manifold_precision_recall(features["training"], features["synthetic"], report["nearest_k"])
    # What real images score against real ones (two halves of the training images): the ceiling.
    real_precision, real_recall = manifold_precision_recall(
        features["training"][:half], features["training"][half:], report["nearest_k"]
    )
    pixel_share, pixel_distance, pixel_index = memorization(
        pixels["synthetic"], pixels["training"], pixels["held_out"], report["memorization_percentile"]
    )
    feature_share, _, _ = memorization(
        features["synthetic"], features["training"], features["held_out"], report["memorization_percentile"]
    )
    closest = np.argsort(pixel_distance)[: report["closest_pairs"]]
    metrics = {
        "gan_profile": "+".join(synthetic_image_profiles(synthetic_set["paths"])) or "unknown",
        "kid": kernel_inception_distance(features["synthetic"], features["training"]),
        "kid_real_vs_real": kernel_inception_distance(features["training"][:half], features["training"][half:]),
        "fid": frechet_distance(features["synthetic"], features["training"]),
        "fid_real_vs_real": frechet_distance(features["training"][:half], features["training"][half:]),
    }
    # How many times the real-vs-real floor; undefined where the (unbiased) KID floor is not positive.
    for distance in ("kid", "fid"):
        if metrics[f"{distance}_real_vs_real"] > 0:
            metrics[f"{distance}_over_real_vs_real"] = metrics[distance] / metrics[f"{distance}_real_vs_real"]
    metrics |= {
        "precision": precision,
        "recall": recall,
        "precision_real_vs_real": real_precision,
        "recall_real_vs_real": real_recall,
        "memorized_share_pixels": pixel_share,
        "memorized_share_features": feature_share,
        "n_synthetic": len(synthetic),
        "n_training": len(training),
        "n_held_out": len(held_out),
        "feature_space": "baseline classifier, last conv block, global average pooled",
    }
    shown = {
        "synthetic": synthetic[: report["grid_images"]],
        "real": training[: report["grid_images"]],
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
