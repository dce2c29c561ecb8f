"""Dataset shift on unlabelled images: do new images come from the distribution a model was
validated on? Everything here works on feature vectors (the model's pooled last feature map,
``models.features``) and calibrated probabilities, so it needs no labels and no Keras.

- ``mmd_test``: maximum mean discrepancy between the reference (validation) features and the new
  images' features, RBF kernel with the median-heuristic bandwidth, p-value from a seeded
  permutation test (Gretton et al. 2012; the detector "Failing Loudly", Rabanser et al. 2019,
  found best on representations).
- ``prevalence_test``: the share of images the model calls positive, new images against validation
  (Fisher's exact test). A change may be a real change of prevalence rather than of images.
- ``OutOfDistributionScorer``: per image, the mean distance to its ``k`` nearest reference images as
  a percentile of the reference images' own leave-one-out distances (100: farther than all).

Features are standardised by the reference's per-dimension mean and spread before any distance, so
a few channels with large activations do not decide alone.

``shift_check_report`` is the check of a folder of images as ``check-shift`` writes it; the
predictor is passed in (``inference.Predictor``: ``stored_image``, ``check_shift``, ``ood_warning``,
``name``), never imported.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import fisher_exact

from ..imaging.decode import ImageDecodeError

# Permutation null statistics computed per matrix product (bounds the memory of the test).
PERMUTATION_CHUNK = 100
# A dimension whose reference spread is below this share of the median spread is scaled as if it
# had that spread: a channel that is (almost) constant on validation would otherwise blow up.
MIN_RELATIVE_SPREAD = 1e-3
# Fewer images than this per side: the test is computed but has little power (said in the report).
FEW_IMAGES = 20
SHIFT_REPORT_FILE = "shift_report.json"


def standardiser(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-dimension mean and spread that standardise features against ``reference``."""
    mean, spread = reference.mean(axis=0), reference.std(axis=0)
    positive = spread[spread > 0]
    floor = MIN_RELATIVE_SPREAD * (float(np.median(positive)) if positive.size else 1.0)
    return mean, np.maximum(spread, floor)


def squared_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``first`` and ``second``."""
    squared = (first**2).sum(1)[:, None] + (second**2).sum(1)[None, :] - 2.0 * first @ second.T
    return np.maximum(squared, 0.0)


def median_bandwidth(squared: np.ndarray) -> float:
    """The median heuristic: the median distance between distinct points (1 if they all coincide)."""
    off_diagonal = squared[~np.eye(len(squared), dtype=bool)]
    median = float(np.sqrt(np.median(off_diagonal))) if off_diagonal.size else 0.0
    return median if median > 0 else 1.0


def unbiased_mmd2(kernel: np.ndarray, in_first: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 of the two samples each row of the boolean ``in_first`` (P, N) marks in the
    pooled ``kernel`` (N, N) whose diagonal is 1 (the RBF kernel's)."""
    first = in_first.astype(np.float64)
    n = first.sum(1)
    m = len(kernel) - n
    first_rows = first @ kernel
    within_first = (first_rows * first).sum(1)
    between = first_rows.sum(1) - within_first
    within_second = kernel.sum() - within_first - 2.0 * between
    return (within_first - n) / (n * (n - 1)) + (within_second - m) / (m * (m - 1)) - 2.0 * between / (n * m)


def mmd_test(reference: np.ndarray, sample: np.ndarray, permutations: int, seed: int) -> dict:
    """The MMD two-sample test of ``sample`` against ``reference`` (feature rows, >= 2 each).

    Returns ``statistic`` (unbiased MMD^2), ``p_value`` (permutation test, (1 + #null >= statistic)
    / (1 + permutations)), ``effect_size`` (MMD itself, sqrt of the statistic clipped at 0: 0 for
    one distribution, up to sqrt 2 for disjoint ones, comparable across sample sizes), the kernel
    ``bandwidth``, both sample sizes and the permutations.
    """
    if len(reference) < 2 or len(sample) < 2:
        raise ValueError(f"The MMD test needs at least 2 images on each side, got {len(reference)} and {len(sample)}.")
    mean, spread = standardiser(reference)
    pooled = (np.concatenate([reference, sample]) - mean) / spread
    squared = squared_distances(pooled, pooled)
    bandwidth = median_bandwidth(squared)
    kernel = np.exp(-squared / (2.0 * bandwidth**2))
    observed_split = np.zeros((1, len(pooled)), dtype=bool)
    observed_split[0, : len(reference)] = True
    statistic = float(unbiased_mmd2(kernel, observed_split)[0])
    rng = np.random.default_rng(seed)
    exceeded = 0
    for start in range(0, permutations, PERMUTATION_CHUNK):
        count = min(PERMUTATION_CHUNK, permutations - start)
        orders = rng.permuted(np.tile(np.arange(len(pooled)), (count, 1)), axis=1)
        in_first = orders < len(reference)
        exceeded += int((unbiased_mmd2(kernel, in_first) >= statistic).sum())
    return {
        "statistic": statistic,
        "p_value": (1 + exceeded) / (1 + permutations),
        "effect_size": float(np.sqrt(max(statistic, 0.0))),
        "bandwidth": bandwidth,
        "reference_images": len(reference),
        "images": len(sample),
        "permutations": permutations,
    }


def prevalence_test(reference_probabilities: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """The share called positive (calibrated probability >= ``threshold``) among the reference's
    and the new images, the mean probabilities, and Fisher's exact two-sided p-value."""
    reference_positive = int((reference_probabilities >= threshold).sum())
    positive = int((probabilities >= threshold).sum())
    table = [[reference_positive, len(reference_probabilities) - reference_positive], [positive, len(probabilities) - positive]]
    return {
        "reference_predicted_prevalence": reference_positive / len(reference_probabilities),
        "predicted_prevalence": positive / len(probabilities),
        "reference_mean_probability": float(np.mean(reference_probabilities)),
        "mean_probability": float(np.mean(probabilities)),
        "p_value": float(fisher_exact(table).pvalue),
        "threshold": threshold,
    }


class OutOfDistributionScorer:
    """Per-image out-of-distribution scores against reference features (see the module docstring)."""

    def __init__(self, reference: np.ndarray, neighbours: int) -> None:
        if len(reference) <= neighbours:
            raise ValueError(f"An out-of-distribution score with k = {neighbours} needs more than {neighbours} reference images, got {len(reference)}.")
        self.mean, self.spread = standardiser(reference)
        self.reference = (reference - self.mean) / self.spread
        self.neighbours = neighbours
        squared = squared_distances(self.reference, self.reference)
        np.fill_diagonal(squared, np.inf)  # leave one out: an image is not its own neighbour
        self.reference_distances = np.sort(self._mean_nearest(squared))

    def _mean_nearest(self, squared: np.ndarray) -> np.ndarray:
        nearest = np.partition(squared, self.neighbours - 1, axis=1)[:, : self.neighbours]
        return np.sqrt(nearest).mean(1)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mean distance of each feature row to its ``neighbours`` nearest reference rows."""
        return self._mean_nearest(squared_distances((features - self.mean) / self.spread, self.reference))

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Percentile (0-100) of each row's distance among the reference's leave-one-out distances."""
        below = np.searchsorted(self.reference_distances, self.distances(features), side="left")
        return 100.0 * below / len(self.reference_distances)


def shift_report(
    reference_features: np.ndarray,
    reference_probabilities: np.ndarray,
    features: np.ndarray,
    probabilities: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    settings: dict,
) -> dict:
    """Both tests of new images against the reference, and a plain verdict.

    ``scores`` are the new images' out-of-distribution scores (``OutOfDistributionScorer``),
    summarised as the share over ``warning_percentile``. ``settings``: ``permutations``, ``alpha``,
    ``seed``, ``max_images`` (a seeded sample of the new images enters the MMD test when there are
    more; the prevalence and the scores use all), ``neighbours``, ``warning_percentile``.
    """
    rng = np.random.default_rng(settings["seed"])
    sample = features
    if len(features) > settings["max_images"]:
        sample = features[np.sort(rng.choice(len(features), settings["max_images"], replace=False))]
    mmd = mmd_test(reference_features, sample, settings["permutations"], settings["seed"])
    prevalence = prevalence_test(reference_probabilities, probabilities, threshold)
    alpha = settings["alpha"]
    mmd["shifted"], prevalence["shifted"] = mmd["p_value"] < alpha, prevalence["p_value"] < alpha
    notes = []
    if len(features) < FEW_IMAGES:
        notes.append(f"Only {len(features)} images: the tests have little power, so 'no shift' means little.")
    if prevalence["shifted"] and not mmd["shifted"]:
        notes.append(
            "The predicted prevalence differs but the images do not: this site may simply see a different share of "
            "pneumonia (label shift), which moves the predictive values, not the sensitivity or specificity."
        )
    return {
        "shifted": bool(mmd["shifted"] or prevalence["shifted"]),
        "alpha": alpha,
        "images": len(features),
        "mmd": mmd,
        "prevalence": prevalence,
        "out_of_distribution": {
            "neighbours": settings["neighbours"],
            "warning_percentile": settings["warning_percentile"],
            "share_over_cutoff": float(np.mean(scores > settings["warning_percentile"])),
            "expected_share_without_shift": (100 - settings["warning_percentile"]) / 100,
            "median_score": float(np.median(scores)),
        },
        "notes": notes,
    }


def summary_lines(report: dict) -> list[str]:
    """A shift report in plain words, one finding per line, the verdict last."""
    mmd, prevalence, ood = report["mmd"], report["prevalence"], report["out_of_distribution"]
    alpha = report["alpha"]
    over = round(ood["share_over_cutoff"] * report["images"])
    lines = [
        f"Images against the model's validation images ({mmd['images']} vs {mmd['reference_images']}, in its feature space): "
        + ("they differ" if mmd["shifted"] else "no difference found")
        + f" (MMD p = {mmd['p_value']:.3g}, alpha {alpha:g}; effect size {mmd['effect_size']:.3f}, 0 = none, 1.41 = disjoint).",
        f"Predicted prevalence: {prevalence['predicted_prevalence']:.1%} here vs {prevalence['reference_predicted_prevalence']:.1%} "
        f"on validation (Fisher p = {prevalence['p_value']:.3g}): " + ("it differs." if prevalence["shifted"] else "no difference found."),
        f"Out-of-distribution: {over} of {report['images']} images ({ood['share_over_cutoff']:.1%}) are farther from validation than "
        f"{ood['warning_percentile']:g}% of validation images are from each other (about {ood['expected_share_without_shift']:.0%} "
        "without a shift).",
        *report["notes"],
        "Verdict: "
        + (
            "SHIFT DETECTED: these images do not look like the model's validation images; its operating point may not hold here."
            if report["shifted"]
            else "no shift detected (which is not proof that there is none)."
        ),
    ]
    return lines


@dataclass(frozen=True)
class StoredImages:
    """Files as the model sees them: the readable files' ``sources`` and stored ``images`` (N, H, W;
    (0, 1, 1) when none), in the order given, and why each other file could not be read (``unreadable``)."""

    sources: list[str]
    images: np.ndarray
    unreadable: dict[str, str]


def read_stored_images(predictor, paths: Sequence[str | Path]) -> StoredImages:
    """Each path's stored image (``predictor.stored_image``) or, when it cannot be read or decoded, the reason."""
    sources, images, unreadable = [], [], {}
    for path in paths:
        try:
            images.append(predictor.stored_image(path, str(path)))
            sources.append(str(path))
        except ImageDecodeError as error:
            unreadable[str(path)] = str(error)
    return StoredImages(sources, np.stack(images) if images else np.zeros((0, 1, 1), dtype=np.uint8), unreadable)


# The fewest images a shift check takes (the MMD test compares two samples of at least 2).
MIN_SHIFT_CHECK_IMAGES = 2


class TooFewImagesError(ValueError):
    """Fewer readable images than the MMD test needs (2)."""


def shift_check_report(predictor, data: str | Path, stored: StoredImages, overrides: dict) -> dict:
    """The shift check of the images read from ``data`` (``Predictor.check_shift``, whose recorded
    settings ``overrides`` replace), with the model, the folder, each image's out-of-distribution
    score and warning, and the unreadable files.

    Raises:
        TooFewImagesError: if fewer than ``MIN_SHIFT_CHECK_IMAGES`` images could be read.
    """
    if len(stored.sources) < MIN_SHIFT_CHECK_IMAGES:
        raise TooFewImagesError(
            f"'{data}' holds {len(stored.sources)} readable image(s) of {len(stored.sources) + len(stored.unreadable)} "
            f"files: a shift check needs at least {MIN_SHIFT_CHECK_IMAGES}."
        )
    report = predictor.check_shift(stored.images, **overrides)
    scores = report.pop("image_scores")
    return {
        "model": predictor.name,
        "data": str(data),
        **report,
        "per_image": [
            {"source": source, "ood_score": score, "ood_warning": predictor.ood_warning(score)}
            for source, score in zip(stored.sources, scores)
        ],
        "unreadable": [{"source": source, "error": reason} for source, reason in stored.unreadable.items()],
    }


def write_shift_report(report: dict, folder: str | Path) -> Path:
    """Write ``report`` as ``shift_report.json`` into ``folder`` (created); returns the file."""
    path = Path(folder) / SHIFT_REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
