"""Prediction cost of test-time augmentation and of seed ensembles, per image, on this machine.

Scores ``--images`` stored images through ``Predictor.raw_probabilities`` (what every prediction
path calls) with an untrained project CNN at the configured image size and architecture: with no
TTA, with 1, 2, 4 and all 6 transforms, and as an ensemble of 1, 2, 3 and 5 members. Pixels are
synthetic: the cost depends on the image size, not on the content. Each setting is timed after a
warm-up call, best of ``--repeats``. Prints milliseconds per image and the ratio to the plain model.

Run from the project root:  python benchmarks/tta_cost.py [--images 256] [--repeats 3]
"""

import argparse
import time

import keras
import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.imaging.tta import TTA_TRANSFORMS
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.inference.package import PACKAGE_FORMAT_VERSION
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.ensemble import build_ensemble


def predictor(classifier: keras.Model, preprocessing: dict, inference: dict) -> Predictor:
    return Predictor(
        classifier,
        {
            "format_version": PACKAGE_FORMAT_VERSION,
            "classes": ["NORMAL", "PNEUMONIA"],
            "preprocessing": preprocessing,
            "calibration": {"method": "none", "temperature": 1.0},
            "decision": {"method": "fixed", "threshold": 0.5},
            "inference": inference,
        },
    )


def seconds_per_image(scorer: Predictor, images: np.ndarray, repeats: int) -> float:
    scorer.raw_probabilities(images[:8])  # builds the graph (and TTA's logit model) once
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        scorer.raw_probabilities(images)
        best = min(best, time.perf_counter() - started)
    return best / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = OmegaConfigLoader("conf", base_env="base", default_run_env="base")["parameters"]
    preprocessing, inference, training = params["preprocessing"], params["inference"], params["training"]
    side = preprocessing["image_size"]
    images = np.random.default_rng(0).integers(0, 256, (args.images, side, side), dtype=np.uint8)
    members = []
    for seed in range(5):
        keras.utils.set_random_seed(seed)
        members.append(build_classifier((side, side, 1), training["architecture"]))
    print(f"{args.images} {side}x{side} images, intensity {preprocessing['intensity']['method']}, "
          f"batch {inference['batch_size']}, best of {args.repeats}")

    plain = seconds_per_image(predictor(members[0], preprocessing, {**inference, "tta": None}), images, args.repeats)
    print(f"{'plain model':>22}: {1000 * plain:7.2f} ms/image   1.00x")
    for count in (1, 2, 4, len(TTA_TRANSFORMS)):
        tta = {**inference["tta"], "transforms": list(TTA_TRANSFORMS)[:count]}
        cost = seconds_per_image(predictor(members[0], preprocessing, {**inference, "tta": tta}), images, args.repeats)
        print(f"{f'TTA, {count} transforms':>22}: {1000 * cost:7.2f} ms/image {cost / plain:6.2f}x")
    for count in (2, 3, 5):
        ensemble = build_ensemble(members[:count])
        cost = seconds_per_image(predictor(ensemble, preprocessing, {**inference, "tta": None}), images, args.repeats)
        print(f"{f'ensemble, {count} members':>22}: {1000 * cost:7.2f} ms/image {cost / plain:6.2f}x")


if __name__ == "__main__":
    main()
