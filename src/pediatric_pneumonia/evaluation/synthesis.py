"""How close synthetic images are to real ones of their class, and whether they copy training images:
distances between feature sets (KID, FID), improved precision / recall and memorisation."""

import numpy as np


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


def symmetric_square_root(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix; rounding's negative eigenvalues count as 0."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def trace_of_product_root(cov_first: np.ndarray, cov_second: np.ndarray) -> float:
    """tr sqrt(cov_first @ cov_second), the cross term of the Fréchet distance.

    Computed as the eigenvalues of S cov_second S with S = sqrt(cov_first): the same eigenvalues,
    of a symmetric matrix, so they are real and the root is exact. ``scipy.linalg.sqrtm`` of the
    product is not: its output is complex, and on SciPy 1.18 it is not finite for the singular
    covariances of fewer images than feature dimensions or of a feature that never varies.
    """
    root = symmetric_square_root(cov_first)
    eigenvalues = np.linalg.eigvalsh(root @ cov_second @ root)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mean_gap = first.mean(axis=0) - second.mean(axis=0)
    cov_first, cov_second = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    cross_term = trace_of_product_root(cov_first, cov_second)
    return float(mean_gap @ mean_gap + np.trace(cov_first + cov_second) - 2 * cross_term)


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


def synthetic_image_scores(
    features: dict[str, np.ndarray], pixels: dict[str, np.ndarray], nearest_k: int, memorization_percentile: float
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """KID, FID, precision / recall and memorised shares of the ``synthetic`` samples against the
    ``training`` ones, each beside what two halves of the training samples score against each other
    (the floor or ceiling real images reach); ``held_out`` real samples set the memorisation limit.

    ``features`` and ``pixels`` hold the three sets as rows. Returns the scores and, per synthetic
    sample, the pixel distance to and the index of its nearest training sample.
    """
    training, synthetic = features["training"], features["synthetic"]
    half = len(training) // 2
    precision, recall = manifold_precision_recall(training, synthetic, nearest_k)
    real_precision, real_recall = manifold_precision_recall(training[:half], training[half:], nearest_k)
    pixel_share, pixel_distance, pixel_index = memorization(
        pixels["synthetic"], pixels["training"], pixels["held_out"], memorization_percentile
    )
    feature_share, _, _ = memorization(synthetic, training, features["held_out"], memorization_percentile)
    scores = {
        "kid": kernel_inception_distance(synthetic, training),
        "kid_real_vs_real": kernel_inception_distance(training[:half], training[half:]),
        "fid": frechet_distance(synthetic, training),
        "fid_real_vs_real": frechet_distance(training[:half], training[half:]),
    }
    # How many times the real-vs-real floor; undefined where the (unbiased) KID floor is not positive.
    for distance in ("kid", "fid"):
        if scores[f"{distance}_real_vs_real"] > 0:
            scores[f"{distance}_over_real_vs_real"] = scores[distance] / scores[f"{distance}_real_vs_real"]
    scores |= {
        "precision": precision,
        "recall": recall,
        "precision_real_vs_real": real_precision,
        "recall_real_vs_real": real_recall,
        "memorized_share_pixels": pixel_share,
        "memorized_share_features": feature_share,
    }
    return scores, pixel_distance, pixel_index
