"""What mixup and cutmix add to the cost of an epoch's training batches.

Generates ``--images`` random 148x148 uint8 images (the stored size, default 4,400: one default
epoch), then builds every batch of one epoch with ``TrainingBatches`` and the configured
``training`` (batch size, online augmentation) and ``preprocessing.intensity`` parameters, once
per ``training.mixup.method`` (none, mixup, cutmix; ``--alpha``), ``--repeats`` rounds with the
methods interleaved. Prints the fastest round's seconds per epoch of batches for each (the least
disturbed by other work on the machine) and its ratio to ``none``, and the mixing step alone. No model is
trained: the batches are what mixing changes, and an epoch's training time (docs/cost.md) is the
scale to read the difference against.

Run from the project root:  nice -n 10 python benchmarks/mixup_cost.py [--images 4400 --alpha 0.4]
"""

import argparse
import time

import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.choices import MIXUP_METHODS
from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier_training import TrainingBatches, mix_batch
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS


def generated_set(count: int, side: int, seed: int = 0) -> dict:
    """``count`` random ``side`` x ``side`` images, the two classes alternating."""
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, (count, side, side), dtype=np.uint8),
        "labels": np.arange(count, dtype=np.uint8) % 2,
    }


def epoch_seconds(batches: TrainingBatches) -> float:
    """Wall seconds to build every batch of one epoch."""
    start = time.perf_counter()
    for index in range(len(batches)):
        batches[index]
    return time.perf_counter() - start


def mixing_seconds(image_set: dict, batch_size: int, mixup: dict) -> float:
    """Wall seconds of the mixing step alone over one epoch of (unaugmented) batches."""
    rng = np.random.default_rng(0)
    labels = image_set["labels"].astype(np.float32)
    total = 0.0
    for start_index in range(0, len(labels), batch_size):
        images = as_model_input(image_set["images"][start_index : start_index + batch_size], {"method": "none"})
        start = time.perf_counter()
        mix_batch(images, labels[start_index : start_index + batch_size], None, mixup, rng)
        total += time.perf_counter() - start
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4400, help="images per epoch (default 4,400)")
    parser.add_argument("--alpha", type=float, default=0.4, help="Beta(alpha, alpha) of the mixing share")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the methods; the fastest counts")
    arguments = parser.parse_args()

    parameters = OmegaConfigLoader(conf_source="conf", env="base", **CONFIG_LOADER_ARGS)["parameters"]
    training, preprocessing = parameters["training"], parameters["preprocessing"]
    side, batch_size = preprocessing["image_size"], training["batch_size"]
    image_set = generated_set(arguments.images, side)
    print(
        f"{arguments.images} generated {side}x{side} images, batch {batch_size}, online augmentation "
        f"{'on' if training['augmentation']['enabled'] else 'off'}, intensity {preprocessing['intensity']['method']}"
    )
    mixups = {method: {"method": method, "alpha": arguments.alpha} for method in MIXUP_METHODS}
    rounds: dict[str, list[float]] = {method: [] for method in MIXUP_METHODS}
    for _ in range(arguments.repeats):
        for method, mixup in mixups.items():
            batches = TrainingBatches(
                image_set, batch_size, arguments.images, training["augmentation"], preprocessing["intensity"], 0, mixup
            )
            rounds[method].append(epoch_seconds(batches))
    seconds = {method: min(values) for method, values in rounds.items()}
    for method, mixup in mixups.items():
        mixing = "" if method == "none" else f"; mixing alone {mixing_seconds(image_set, batch_size, mixup):.2f} s"
        print(
            f"{method:>6}: {seconds[method]:.1f} s per epoch of batches (rounds {', '.join(f'{value:.1f}' for value in rounds[method])}), "
            f"{seconds[method] / seconds['none']:.3f}x none{mixing}"
        )

if __name__ == "__main__":
    main()
